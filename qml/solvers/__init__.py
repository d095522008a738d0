"""Variational optimisation solvers (QAOA, VQE) on any qhybrid backend.

Problems (:class:`MaxCut`, :class:`QUBO`, :class:`HamiltonianProblem` and its builders) define what is
minimised; :class:`QAOA` and :class:`VQE` minimise it on a backend from ``qml.backend_names()``. The classical
references a quantum answer is judged against live in ``classical.solvers``; both sides check their graphs and
matrices, and take their size limits (:data:`MAX_ENUMERATION_QUBITS`, :data:`MAX_DIAGONALISATION_QUBITS`), from
``classical.problems``.
"""

from qhybrid.classical.problems import MAX_DIAGONALISATION_QUBITS, MAX_ENUMERATION_QUBITS

from ._common import OPTIMIZERS, energy_functions
from .hamiltonians import (
    HamiltonianProblem,
    check_active_space,
    h2,
    h3_plus,
    heh_plus,
    heisenberg,
    lih,
    molecule,
    transverse_field_ising,
)
from .problems import QUBO, MaxCut
from .qaoa import INITS, QAOA, QAOADepthResult, QAOAResult, interp_init, linear_ramp, qaoa_circuit
from .vqe import VQE, VQE_ANSATZE, VQEResult

__all__ = [
    "INITS",
    "MAX_DIAGONALISATION_QUBITS",
    "MAX_ENUMERATION_QUBITS",
    "OPTIMIZERS",
    "QUBO",
    "HamiltonianProblem",
    "MaxCut",
    "check_active_space",
    "energy_functions",
    "h2",
    "h3_plus",
    "heh_plus",
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
    "VQE_ANSATZE",
    "VQEResult",
]
