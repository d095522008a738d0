"""Variational optimisation solvers (QAOA, VQE) on any qhybrid backend.

Problems (:class:`MaxCut`, :class:`QUBO`, :class:`HamiltonianProblem` and its builders) define what is
minimised; :class:`QAOA` and :class:`VQE` minimise it on a backend from ``qml.backend_names()``. The classical
references a quantum answer is judged against live in ``classical.solvers``.
"""

from .problems import (
    MAX_DIAGONALISATION_QUBITS,
    MAX_ENUMERATION_QUBITS,
    QUBO,
    HamiltonianProblem,
    MaxCut,
    h2,
    heisenberg,
    lih,
    molecule,
    transverse_field_ising,
)
from .qaoa import QAOA, QAOADepthResult, QAOAResult, interp_init, linear_ramp, qaoa_circuit
from .vqe import VQE, VQEResult

__all__ = [
    "MAX_DIAGONALISATION_QUBITS",
    "MAX_ENUMERATION_QUBITS",
    "QUBO",
    "HamiltonianProblem",
    "MaxCut",
    "h2",
    "heisenberg",
    "lih",
    "molecule",
    "transverse_field_ising",
    "QAOA",
    "QAOADepthResult",
    "QAOAResult",
    "interp_init",
    "linear_ramp",
    "qaoa_circuit",
    "VQE",
    "VQEResult",
]
