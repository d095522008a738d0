"""qhybrid's batched Aer device, one module per concern.

=================== ==========================================================================
module              what it holds
=================== ==========================================================================
``device``          :class:`AerDevice` (``qhybrid.aer``) and :class:`AerMixedDevice`
                    (``qhybrid.aer.mixed``), the PennyLane devices: configuration and dispatch only
``preprocess``      the operations and measurements the device takes; decompositions
``runner``          :class:`AerRunner`: the simulator, its RNG, the structure cache, counters
``compile``         tapes -> structures -> parameterised Qiskit circuits of native gates
``paulis``          rotation generators, observables as Pauli words, words on statevectors in numpy
``joint``           a batch of rows as one Aer experiment (index register)
``exact``           analytic values (expectations, variances, probabilities, states)
``general``         measurements that are not Pauli words, read from the saved final state
``coefficients``    derivatives by trainable observable coefficients
``sampling``        finite shots: bases, one sampled run per structure, estimates in numpy
``param_shift``     batched parameter-shift jacobians, exact and sampled; jacobian -> VJP
``adjoint``         adjoint derivatives from Aer snapshots (exact statevector)
``layers``          the adjoint's reversed pass scheduled in layers of commuting gates
``density_adjoint`` adjoint derivatives on the density matrix, depolarising noise included
``memory``          available memory and the budgets the paths plan against
=================== ==========================================================================
"""

from .device import AerDevice, AerMixedDevice
from .memory import InsufficientMemoryError, MemoryBudget, available_memory_bytes
from .runner import AER_METHODS, AerRunner

__all__ = [
    "AER_METHODS",
    "AerDevice",
    "AerMixedDevice",
    "AerRunner",
    "InsufficientMemoryError",
    "MemoryBudget",
    "available_memory_bytes",
]
