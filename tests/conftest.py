"""Test-wide settings.

Idle threads of torch, Aer and OpenBLAS spin while waiting; on a 2-core machine busy pools slow each other
down by orders of magnitude, so tests run with passive waiting (set before they load: qhybrid/_waiting.py).
"""

import os
import sys
from pathlib import Path

from qhybrid._waiting import wait_passively

wait_passively()
os.environ.setdefault("MPLBACKEND", "Agg")

# helpers shared by test folders (tests/graphs.py): --import-mode=importlib puts no test folder on sys.path
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
