"""Running an example script as a user would, for the example tests of tests/classical and tests/qml."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(script: str, args: list[str], cwd: Path, expected: str, timeout: int = 900) -> None:
    """Run ``examples/<script>`` with ``args`` in ``cwd``; it must exit 0 and print ``expected``."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expected in proc.stdout
