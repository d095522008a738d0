"""The quantum and comparison examples run end to end, with small arguments. Slow: run with -m slow."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# script -> (arguments, text its output must hold)
CASES = {
    "qaoa_maxcut.py": (["--nodes", "6", "--depth", "2", "--out", "qaoa.png"], "max cut"),
    "vqe_h2.py": (["--points", "2", "--ansatz", "doubles", "--out", "vqe.png"], "max |VQE - exact|"),
    "noisy_device.py": (["--epochs", "1", "--samples", "40"], "fake_manila noise (aer.density)"),
    "compare_quick.py": ([], "written:"),
    "compare_backends.py": ([], "written:"),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    if script == "noisy_device.py" and importlib.util.find_spec("qiskit_ibm_runtime") is None:
        pytest.skip("noisy_device.py needs the ibm extra")
    args, expected = CASES[script]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expected in proc.stdout
    if "--out" in args:
        assert (tmp_path / args[args.index("--out") + 1]).stat().st_size > 0  # the plot was written
