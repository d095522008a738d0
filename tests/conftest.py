"""Test-wide settings.

OpenMP threads of torch and Aer spin while waiting; on a 2-core machine two busy pools slow each other
down by orders of magnitude, so tests run with passive waiting (set before torch / qiskit_aer load).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")

import sys
from pathlib import Path

# helpers shared by test folders (tests/graphs.py): --import-mode=importlib puts no test folder on sys.path
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
