"""qhybrid's quantum side: PennyLane circuits executed on Qiskit Aer simulators.

* :func:`make_device` turns a backend name (``aer``, ``aer.shots``, ``aer.density``, ``aer.mps``, ``lightning``,
  ``default``) into a PennyLane device; the Aer ones are qhybrid's batched :class:`AerDevice`. ``torch`` is
  qhybrid's compiled statevector engine (:mod:`qhybrid.qml.engine`), run by :class:`QuantumLayer` itself;
  ``auto`` picks it for exact runs and Aer for shots and noise.
* :class:`QuantumLayer` is a variational circuit as a ``torch.nn.Module``.
* :class:`FidelityKernel`, :class:`ProductKernel`, :class:`ProjectedKernel` compute quantum kernels' Gram
  matrices (:mod:`qml.kernels`: one batched run of ``N`` circuits where the backend gives exact states).
* :mod:`qml.circuits` holds embeddings and ansätze, :mod:`qml.noise` noise models, :mod:`qml.solvers` QAOA/VQE.
"""

from typing import TYPE_CHECKING

from qhybrid._lazy import lazy_exports

# Each name loads its module on first use: PennyLane's device entry point (``qml.device("qhybrid.aer")``
# imports ``qhybrid.qml.aer``) pays for PennyLane, qiskit-aer and numpy, not for torch, scikit-learn or
# matplotlib, which only the layer, the kernels and the engines need.
_EXPORTS: dict[str, str] = {
    "AerDevice": "aer",
    "BACKENDS": "backends",
    "backend_choices": "backends",
    "backend_names": "backends",
    "check_fits": "backends",
    "default_diff_method": "backends",
    "describe_backends": "backends",
    "make_device": "backends",
    "required_memory_bytes": "backends",
    "ANSATZE": "circuits",
    "EMBEDDINGS": "circuits",
    "get_ansatz": "circuits",
    "get_embedding": "circuits",
    "FidelityKernel": "kernels",
    "ProductKernel": "kernels",
    "ProjectedKernel": "kernels",
    "QuantumLayer": "layer",
    "NoiseSpec": "noise",
    "noise_model": "noise",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # static tools see the real names
    from .aer import AerDevice  # noqa: F401
    from .backends import (  # noqa: F401
        BACKENDS,
        backend_choices,
        backend_names,
        check_fits,
        default_diff_method,
        describe_backends,
        make_device,
        required_memory_bytes,
    )
    from .circuits import ANSATZE, EMBEDDINGS, get_ansatz, get_embedding  # noqa: F401
    from .kernels import FidelityKernel, ProductKernel, ProjectedKernel  # noqa: F401
    from .layer import QuantumLayer  # noqa: F401
    from .noise import NoiseSpec, noise_model  # noqa: F401
