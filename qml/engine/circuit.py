"""``CompiledCircuit``: a quantum function traced once, then run on torch tensors with no PennyLane in the call.

The circuit is traced (:mod:`.trace`), fused into passes (:mod:`.plan`) and laid out as index tables and
constant matrices (:mod:`.program`) once. A call (:mod:`.call`) computes every gate matrix at once, multiplies
the one-qubit chains, builds the prefix state and the block matrices, runs the stages and reads the
``<Z...Z>`` values off the probabilities (:mod:`.evolve`); its backward pass is written out, an adjoint pass
in O(1) states per row. It runs wherever its tensors are (CPU, CUDA), in complex128.

Example:
    >>> import pennylane as qp, torch
    >>> def f(x, w):
    ...     qp.AngleEmbedding(x, wires=range(2))
    ...     qp.CNOT([0, 1])
    ...     qp.RY(w[0], wires=1)
    ...     return [qp.expval(qp.Z(0)), qp.expval(qp.Z(1))]
    >>> circuit = CompiledCircuit(f, n_wires=2, n_inputs=2, weight_shape=(1,))
    >>> circuit(torch.zeros(3, 2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    tensor([[1., 1.],
            [1., 1.],
            [1., 1.]], dtype=torch.float64)
"""

from __future__ import annotations

import torch

from . import loop_call
from .call import EngineCall, engine_state
from .gates import diagonal_phases, gate_kind
from .memory import keep_freed_memory
from .plan import make_plan
from .program import Program
from .trace import trace


def _kind(op) -> str:
    # one-qubit diagonal gates fuse into their wire's block for free; wider ones cost a pass each there
    if len(op.wires) > 1 and diagonal_phases(op) is not None:
        return "diag"
    return gate_kind(op)


class CompiledCircuit:
    """``fn(inputs, weights)`` compiled for the torch engine; call it with ``(B, n_inputs)`` inputs and weights.

    Raises:
        NotTraceable: (a ``ValueError``) when a gate, a parameter or a measurement of ``fn`` is outside what
            the engine runs; the message names it.
    """

    def __init__(self, fn, n_wires: int, n_inputs: int, weight_shape: tuple[int, ...], block_wires=None):
        keep_freed_memory()
        self.n_wires = n_wires
        self.traced = trace(fn, n_wires, n_inputs, tuple(weight_shape))
        self.plan = make_plan(self.traced, [_kind(g.op) for g in self.traced.gates], block_wires)
        self.program = Program(self.traced, self.plan)
        # (a call takes the loops only up to LOOP_AMPLITUDES, so wider circuits need no tables for them)
        small = 2**n_wires <= loop_call.LOOP_AMPLITUDES
        covered = small and loop_call.available() and loop_call.covers(self.traced)
        self.loops = loop_call.LoopProgram(self.traced) if covered else None

    def _on_loops(self, inputs: torch.Tensor, weights: torch.Tensor) -> bool:
        if self.loops is None or weights.device.type != "cpu":
            return False
        rows = inputs.shape[0] if self.loops.per_row else 1
        return 2**self.n_wires * rows <= loop_call.LOOP_AMPLITUDES

    def __call__(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``(B, n_inputs)`` float inputs and the weights -> ``(B, n_observables)`` expectation values."""
        if inputs.shape[0] == 0:  # no rows: no circuit, and a zero gradient
            return weights.new_zeros(0, len(self.traced.observables)) + 0 * weights.sum()
        if self._on_loops(inputs, weights):
            return loop_call.LoopCall.apply(self.loops, inputs, weights)
        return EngineCall.apply(self.program, inputs, weights)

    def state(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The ``(B, 2**n)`` complex states before measurement (no gradient), wire 0 the most significant bit."""
        with torch.no_grad():
            return engine_state(self.program, inputs, weights)
