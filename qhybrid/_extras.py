"""Optional dependencies: each is an extra of the distribution, and a feature that needs one names it.

    pip install "qhybrid[fast]"          # numba: the torch engine's compiled loops for small registers
    pip install "qhybrid[bench]"         # pennylane-qiskit: the stock qiskit.aer plugin rows of benchmarks/
    pip install "qhybrid[solvers]"       # cvxpy: the Goemans-Williamson MaxCut reference
    pip install "qhybrid[compression]"   # torchao: int8 quantisation through torchao
    pip install "qhybrid[ibm]"           # qiskit-ibm-runtime: fake IBM backends as device noise
    pip install "qhybrid[gpu]"           # qiskit-aer-gpu: Aer's CUDA build (device="GPU")
    pip install "qhybrid[distributed]"   # dask[distributed]: qhybrid compare --executor dask

The ``dev`` extra brings ``fast``, ``solvers``, ``compression``, ``ibm`` and ``distributed`` (everything the
tests use). ``fast`` is a speed-up only: without it the same calls run on numpy arrays.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

#: import name -> (distribution, extra)
EXTRAS: dict[str, tuple[str, str]] = {
    "numba": ("numba", "fast"),
    "pennylane_qiskit": ("pennylane-qiskit", "bench"),
    "cvxpy": ("cvxpy", "solvers"),
    "torchao": ("torchao", "compression"),
    "qiskit_ibm_runtime": ("qiskit-ibm-runtime", "ibm"),
    "distributed": ("dask", "distributed"),  # dask.distributed, installed as dask[distributed]
    "tensorboard": ("tensorboard", "tensorboard"),
}


def missing_message(module: str, feature: str) -> str:
    """One line: ``feature`` needs ``module``'s distribution, and the extra that installs it."""
    dist, extra = EXTRAS[module]
    return f"{feature} needs {dist}, which is not installed: pip install 'qhybrid[{extra}]'"


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (a key of :data:`EXTRAS`), or raise ImportError naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # installed, but one of its own imports fails: that error says more than ours
        raise ImportError(missing_message(module, feature), name=module) from exc


def stock_plugin_missing(feature: str = "the stock qiskit.aer plugin row") -> str | None:
    """``None`` when PennyLane's ``qiskit.aer`` device (pennylane-qiskit) can be made, else the one line
    a benchmark prints before it skips that row."""
    import pennylane as qp

    try:
        require("pennylane_qiskit", feature)
    except ImportError as exc:
        return f"skipped: {exc}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the plugin's deprecation and runtime chatter
            qp.device("qiskit.aer", wires=1)
    except Exception as exc:  # installed but broken (e.g. built for other qiskit / PennyLane versions)
        return f"skipped: {feature} is unavailable here ({type(exc).__name__}: {exc})"
    return None
