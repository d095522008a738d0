"""qhybrid's torch engines: a circuit compiled once per structure, run as a few fused passes.

``CompiledCircuit`` runs pure states (see :mod:`.circuit` for the call, :mod:`.plan` for the fusion,
:mod:`.evolve` for the adjoint pass); ``DensityCircuit`` runs density matrices with noise (:mod:`.density`);
``TrajectoryCircuit`` averages pure-state trajectories under Pauli noise (:mod:`.trajectories`).
"""

from .circuit import CompiledCircuit
from .density import DensityCircuit
from .trace import NotTraceable
from .trajectories import TrajectoryCircuit

__all__ = ["CompiledCircuit", "DensityCircuit", "NotTraceable", "TrajectoryCircuit", "compile_for"]


def compile_for(
    name: str, fn, n_wires: int, n_inputs: int, weight_shape, noise_model=None, shots=None, seed=None
):
    """``fn`` compiled for torch-engine backend ``name`` (``torch``, ``torch.density``, ``torch.trajectories``:
    ``shots`` trajectories a row, drawn from ``seed``); the one place a backend name picks its engine.

    Raises:
        NotTraceable: the engine cannot run ``fn`` (or ``noise_model``); the message names what.
        ValueError: ``name`` is no torch engine.
    """
    if name == "torch":
        return CompiledCircuit(fn, n_wires, n_inputs, weight_shape)
    if name == "torch.density":
        return DensityCircuit(fn, n_wires, n_inputs, weight_shape, noise_model=noise_model)
    if name == "torch.trajectories":
        return TrajectoryCircuit(fn, n_wires, n_inputs, weight_shape, noise_model, shots, seed=seed)
    raise ValueError(
        f"{name!r} is not a torch engine; allowed: 'torch', 'torch.density', 'torch.trajectories'"
    )
