"""``python -m qhybrid ...``: the ``qhybrid`` command."""

import sys

from qhybrid.hybrid.cli import main

sys.exit(main())
