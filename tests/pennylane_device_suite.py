"""Run PennyLane's own device test suite (``pennylane/devices/tests``) against qhybrid's Aer devices.

Every PennyLane plugin is held to this suite; ``make device-suite`` runs it here, exact and with shots:

    python tests/pennylane_device_suite.py          # qhybrid.aer and qhybrid.aer.mixed (about 1.5 min)
    python tests/pennylane_device_suite.py --all    # and the matrix-product-state method

Each mode prints pytest's summary line; the script exits 1 when a mode has a failure or error. The suite
runs from a temporary folder, so this project's pytest settings do not apply to it. Shots are 10**6: at
10**4 the suite's Hermitian tests (tolerance 0.05 on eigenvalues up to 8) fail on default.qubit too.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pennylane.devices.tests as suite

SHOTS = "1000000"
MODES = [
    ("qhybrid.aer", "None", []),
    ("qhybrid.aer", SHOTS, []),
    ("qhybrid.aer.mixed", "None", []),
    ("qhybrid.aer.mixed", SHOTS, []),
]
MPS_MODES = [
    ("qhybrid.aer", "None", ["--device-kwargs", "method=matrix_product_state"]),
    ("qhybrid.aer", SHOTS, ["--device-kwargs", "method=matrix_product_state"]),
]


def run_mode(device: str, shots: str, extra: list[str], folder: str) -> tuple[str, bool]:
    """Pytest's summary line for one mode, and whether it passed."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(Path(suite.__file__).parent),
        f"--device={device}",
        f"--shots={shots}",
        "--skip-ops",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-flaky-report",
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = next((ln for ln in reversed(lines) if re.search(r"\d+ (passed|failed)", ln)), None)
    if summary is None:
        tail = (proc.stdout + proc.stderr).strip().splitlines()
        summary = f"pytest exited {proc.returncode}: {tail[-1] if tail else 'no output'}"
    if proc.returncode != 0:
        print(proc.stdout[-20000:])
    return summary.strip("= "), proc.returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also run the matrix-product-state method")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for device, shots, extra in MODES + (MPS_MODES if args.all else []):
            label = f"{device} {' '.join(extra)} shots={shots}".replace("--device-kwargs ", "")
            summary, passed = run_mode(device, shots, extra, folder)
            ok &= passed
            print(f"{label:<60} {summary}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
