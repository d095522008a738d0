"""Put the repository root on sys.path.

The distributed tests start worker processes that unpickle functions defined in these test modules;
the workers find them through the root on sys.path.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
