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

from .aer import AerDevice
from .backends import (
    BACKENDS,
    backend_choices,
    backend_names,
    check_fits,
    default_diff_method,
    describe_backends,
    make_device,
    required_memory_bytes,
)
from .circuits import ANSATZE, EMBEDDINGS, get_ansatz, get_embedding
from .kernels import FidelityKernel, ProductKernel, ProjectedKernel
from .layer import QuantumLayer
from .noise import NoiseSpec, noise_model

__all__ = [
    "ANSATZE",
    "BACKENDS",
    "EMBEDDINGS",
    "AerDevice",
    "FidelityKernel",
    "NoiseSpec",
    "ProductKernel",
    "ProjectedKernel",
    "QuantumLayer",
    "backend_choices",
    "backend_names",
    "check_fits",
    "default_diff_method",
    "describe_backends",
    "get_ansatz",
    "get_embedding",
    "make_device",
    "noise_model",
    "required_memory_bytes",
]
