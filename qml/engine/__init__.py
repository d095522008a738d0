"""qhybrid's torch engines: a circuit compiled once per structure, run as a few fused passes.

``CompiledCircuit`` runs pure states (see :mod:`.circuit` for the call, :mod:`.plan` for the fusion,
:mod:`.evolve` for the adjoint pass); ``DensityCircuit`` runs density matrices with noise (:mod:`.density`);
``TrajectoryCircuit`` averages pure-state trajectories under Pauli noise (:mod:`.trajectories`).
"""

from .circuit import CompiledCircuit
from .density import DensityCircuit
from .trace import NotTraceable
from .trajectories import TrajectoryCircuit

__all__ = ["CompiledCircuit", "DensityCircuit", "NotTraceable", "TrajectoryCircuit"]
