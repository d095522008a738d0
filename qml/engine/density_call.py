"""The passes over a batch of density matrices' Pauli coefficients, forward and backward, as one autograd
function.

The small matrices of a call (each pass's ``4**k`` transfer matrix, each qubit's starting coefficients) are
built by torch from the angles, so autograd carries their gradients to the inputs and weights. What this
module writes out by hand is the expensive part: the passes over the real ``(4**n, B)`` coefficients. Noise
is not unitary, so the backward pass cannot undo the passes as the statevector engine does: it keeps the
input of every pass while they fit in :data:`KEEP_BYTES`, and past that keeps one in ``isqrt(passes)`` and
runs each segment again from its start (two forward passes' work for ``O(sqrt(passes))`` states).

``<Z...Z>`` is one coefficient: the Pauli word's own.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import arrays, kernels
from .arrays import NUMPY
from .density_gather import Gather

#: The pass inputs kept for the backward pass; past this, segments are run again (10 qubits x 8 rows keeps
#: its 16 inputs, 64 MiB each, and skips a third of the work).
KEEP_BYTES = 2**30
#: Calls on the CPU with at most this many coefficients per row run on numpy: every one. Real products of
#: these shapes ran 2.5x faster in numpy's OpenBLAS than in torch's MKL here (16 x 16 by 16 x 32768: 0.39 against
#: 0.95 ms, one thread), and numpy's cost per operation is lower. Tests set 0 to run the torch path.
NUMPY_AMPLITUDES = 2**62


class DensityLayout:
    """What every call of a plan needs: for each stage either the bits of its matrix in the ``2n``-bit
    coefficient index (qubit ``w`` owns bits ``2w, 2w + 1``) or its :class:`.Gather`, and the index of each
    measured Z word's coefficient."""

    def __init__(self, n_wires: int, steps, observables):
        self.n = n_wires
        self.steps = [
            step if isinstance(step, Gather) else tuple(b for w in step for b in (2 * w, 2 * w + 1))
            for step in steps
        ]
        self.words = [sum(3 * 4 ** (n_wires - 1 - w) for w in wires) for wires in observables]

    def run(self, s: int, x, mats, at, transpose: bool = False):
        """Stage ``s`` on ``x`` (``mats``: one matrix per stage, None for gathers), or its transpose."""
        step = self.steps[s]
        if isinstance(step, Gather):
            return step.apply(x, at, transpose)
        m = mats[s].swapaxes(-1, -2) if transpose else mats[s]
        return kernels.apply(x, m, step, 2 * self.n)


def _as(x: torch.Tensor, at):
    return x.detach().numpy() if at == NUMPY else x


def _kron_rows(v) -> object:
    """``(R, m, 4)`` per-qubit vectors -> ``(R, 4**m)`` their Kronecker product per row (first most significant)."""
    out = v[:, 0]
    for w in range(1, v.shape[1]):
        out = (out[:, :, None] * v[:, w, None, :]).reshape(v.shape[0], -1)
    return out


def product_state(v, rows: int):
    """The ``(4**n, rows)`` coefficients of the product state of ``(R, n, 4)`` per-qubit vectors (``R`` is
    ``rows``, or 1 for every row alike)."""
    state = _kron_rows(v).T
    if state.shape[1] != rows:
        state = arrays.of(state).broadcast_to(state, (state.shape[0], rows))
    return arrays.of(state).contiguous(state)


def product_state_gradient(v, cot):
    """The gradient of :func:`product_state`'s per-qubit vectors ``v`` from the state's cotangent ``cot``: for
    qubit ``w``, the cotangent contracted with every other qubit's vector. The qubits after ``w`` are
    contracted away one at a time from the last (each step a quarter of the one before), so all the
    gradients cost under three passes over the cotangent, not one pass per qubit."""
    rows, n = cot.shape[1], v.shape[1]
    right = cot.T  # (rows, 4**n): every qubit still open
    grads = [None] * n
    for w in range(n - 1, -1, -1):
        # right: (rows, 4**(w + 1)), qubits after w contracted; w's gradient needs the ones before it too
        t = right.reshape(rows, 4**w, 4)
        grads[w] = (_kron_rows(v[:, :w])[:, None, :] @ t)[:, 0] if w else t[:, 0]
        if w:
            right = (t @ v[:, w, :, None])[..., 0]  # contract qubit w: (rows, 4**w)
    out = arrays.of(cot).stack(grads, 1)
    return out.sum(0)[None] if v.shape[0] == 1 else out


def _forward(layout: DensityLayout, state, mats, at, keep_every: int):
    kept = {0: state}
    for s in range(len(mats)):
        if s % keep_every == 0:
            kept[s] = state
        state = layout.run(s, state, mats, at)
    return state, kept


class DensityCall(torch.autograd.Function):
    """``(layout, start (R, n, 4) per-qubit vectors of the product start state (R: B or 1), B, *stage matrices
    (Q, d, d) or None for gathers) -> (B, n_obs)`` expectation values (float64)."""

    @staticmethod
    def forward(ctx, layout: DensityLayout, start: torch.Tensor, rows: int, *mats):
        at = NUMPY if start.device.type == "cpu" and 4**layout.n <= NUMPY_AMPLITUDES else start.device
        vectors = _as(start, at)
        state = product_state(vectors, rows)
        stages = [None if m is None else _as(m, at) for m in mats]
        per_state = state.shape[0] * state.shape[1] * 8
        keep_every = 1 if per_state * len(mats) <= KEEP_BYTES else max(1, math.isqrt(len(mats)))
        final, kept = _forward(layout, state, stages, at, keep_every)
        out = final[layout.words].T
        ctx.layout, ctx.at, ctx.kept, ctx.stages, ctx.vectors = layout, at, kept, stages, vectors
        return torch.as_tensor(out) if at == NUMPY else out

    @staticmethod
    def backward(ctx, grad):
        layout, at, stages = ctx.layout, ctx.at, ctx.stages
        g = _as(grad, at)
        first = ctx.kept[0]
        cot = np.zeros(first.shape) if at == NUMPY else torch.zeros_like(first)
        for j, word in enumerate(layout.words):
            cot[word] += g[:, j]
        wanted = ctx.needs_input_grad[3:]
        grads: list = [None] * len(stages)
        starts = sorted(ctx.kept, reverse=True)
        end = len(stages)
        for s0 in starts:
            # the inputs of stages s0 .. end-1, run again from the kept input of s0
            inputs = [ctx.kept[s0]]
            for s in range(s0, end - 1):
                inputs.append(layout.run(s, inputs[-1], stages, at))
            for s in range(end - 1, s0 - 1, -1):
                if wanted[s]:
                    m = stages[s]
                    gm = kernels.matrix_gradient(
                        cot, inputs[s - s0], layout.steps[s], 2 * layout.n, m.shape[0] > 1
                    )
                    grads[s] = gm.reshape(m.shape)
                cot = layout.run(s, cot, stages, at, transpose=True)
            end = s0
        start = product_state_gradient(ctx.vectors, cot) if ctx.needs_input_grad[1] else None
        if at == NUMPY:
            start = None if start is None else torch.as_tensor(start)
            grads = [None if x is None else torch.as_tensor(x) for x in grads]
        ctx.kept = ctx.stages = ctx.vectors = None
        return (None, start, None, *grads)
