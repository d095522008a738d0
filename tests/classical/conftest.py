"""Make `import classical` find the project package, not this test folder.

pytest puts `tests/` on sys.path (rootdir conftest, prepend import mode), where `tests/classical/` would be
picked up as a namespace package named `classical` before the editable install's finder is asked. A
regular package anywhere on sys.path wins over namespace portions, so the repository root goes there.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
