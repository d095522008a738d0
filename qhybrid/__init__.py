"""qhybrid: hybrid quantum-classical machine learning.

One import package with three parts, each a folder at the top of the repository:

* :mod:`qhybrid.qml` (``qml/``): PennyLane circuits on Qiskit Aer, ``QuantumLayer``, QAOA / VQE;
* :mod:`qhybrid.classical` (``classical/``): the PyTorch training stack;
* :mod:`qhybrid.hybrid` (``hybrid/``): hybrid models, the comparison runner, reports and the CLI.

The names a user reaches for first are re-exported here and load on first use, so ``import qhybrid``
stays cheap. :func:`wait_passively` (idle OpenMP and OpenBLAS threads sleep) must run before numpy, torch or
qiskit_aer load, so it comes with the package itself:

    >>> import qhybrid
    >>> qhybrid.make_device("aer", wires=2).method
    'statevector'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qhybrid._lazy import lazy_exports
from qhybrid._waiting import wait_passively

# In a source checkout this folder holds only the top-level modules, and the subpackages are its sibling folders
# (pyproject.toml maps qhybrid.qml -> qml/ and so on). When the checkout itself is on sys.path (the working
# directory of `python -m ...`), Python finds this folder before the installed mapping, so the siblings
# are added to the package's search path. An installed wheel has the subpackages inside and skips this.
_here = Path(__file__).resolve().parent
if not (_here / "qml").is_dir() and (_here.parent / "qml" / "__init__.py").is_file():
    __path__.append(str(_here.parent))

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "AerDevice": "qml",
    "NoiseSpec": "qml",
    "QuantumLayer": "qml",
    "backend_names": "qml",
    "make_device": "qml",
    "QAOA": "qml.solvers",
    "VQE": "qml.solvers",
    "MaxCut": "qml.solvers",
    "QUBO": "qml.solvers",
    "MLP": "classical",
    "GPT": "classical",
    "ResNet": "classical",
    "Trainer": "classical",
    "load_dataset": "classical",
    "make_model": "hybrid",
    "Runner": "hybrid",
}

__all__ = sorted(_EXPORTS) + ["__version__", "wait_passively"]


__getattr__, _dir = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    """The public names (``dir(qhybrid)`` lists what a user may import, not this module's helpers)."""
    return sorted({*__all__, *(n for n in _dir() if n.startswith("__") and n.endswith("__"))})


if TYPE_CHECKING:  # static tools see the real names
    from qhybrid.classical import GPT, MLP, ResNet, Trainer, load_dataset  # noqa: F401
    from qhybrid.hybrid import Runner, make_model  # noqa: F401
    from qhybrid.qml import AerDevice, NoiseSpec, QuantumLayer, backend_names, make_device  # noqa: F401
    from qhybrid.qml.solvers import QAOA, QUBO, VQE, MaxCut  # noqa: F401
