"""Put the repository root on sys.path.

The distributed tests start worker processes that unpickle functions defined in these test modules;
the workers find them (and the project's packages) through the root on sys.path. It also keeps
`tests/classical/` from being taken for the `classical` package under pytest's prepend import mode.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
