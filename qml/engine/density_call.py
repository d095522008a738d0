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
from .buffers import Buffers
from .density_gather import Gather
from .density_singles import Singles

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
            step
            if isinstance(step, (Gather, Singles))
            else tuple(b for w in step for b in (2 * w, 2 * w + 1))
            for step in steps
        ]
        self.words = [sum(3 * 4 ** (n_wires - 1 - w) for w in wires) for wires in observables]
        self.buffers = Buffers()

    def run(self, s: int, x, mats, at, transpose: bool = False):
        """Stage ``s`` on ``x`` (``mats``: one matrix per stage, None for gathers), or its transpose."""
        step = self.steps[s]
        if isinstance(step, Gather):
            return step.apply(x, at, transpose, buffers=self.buffers)
        if isinstance(step, Singles):
            return step.apply(x, mats[s], transpose, buffers=self.buffers)
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


def product_state(v, rows: int, buffers: Buffers | None = None):
    """The ``(4**n, rows)`` coefficients of the product state of ``(R, n, 4)`` per-qubit vectors (``R`` is
    ``rows``, or 1 for every row alike): the outer product of its two halves' Kronecker products, one
    write of the state (into an array from ``buffers`` for numpy)."""
    xp = arrays.of(v)
    if v.shape[1] == 1:
        return xp.contiguous(xp.broadcast_to(v[:, 0].T, (4, rows)))
    h = v.shape[1] // 2
    hi, lo = _kron_rows(v[:, :h]).T, _kron_rows(v[:, h:]).T
    lo = xp.broadcast_to(lo, (lo.shape[0], rows))
    if xp is arrays.of(torch.zeros(0)):
        return (hi[:, None, :] * lo[None, :, :]).reshape(-1, rows)
    out = (buffers or Buffers()).take((hi.shape[0] * lo.shape[0], rows))
    np.multiply(hi[:, None, :], lo[None, :, :], out=out.reshape(hi.shape[0], lo.shape[0], rows))
    return out


def _gradient_sequential(v, cot):
    """:func:`product_state_gradient` qubit by qubit: the qubits after ``w`` are contracted away one at a
    time from the last (each step a quarter of the one before), so all the gradients cost under three passes
    over the cotangent, not one pass per qubit. ``(R, n, 4)`` per row."""
    rows, n = cot.shape[1], v.shape[1]
    right = cot.T  # (rows, 4**n): every qubit still open
    grads = [None] * n
    for w in range(n - 1, -1, -1):
        # right: (rows, 4**(w + 1)), qubits after w contracted; w's gradient needs the ones before it too
        t = right.reshape(rows, 4**w, 4)
        grads[w] = (_kron_rows(v[:, :w])[:, None, :] @ t)[:, 0] if w else t[:, 0]
        if w:
            right = (t @ v[:, w, :, None])[..., 0]  # contract qubit w: (rows, 4**w)
    return arrays.of(cot).stack(grads, 1)


def product_state_gradient(v, cot):
    """The gradient of :func:`product_state`'s per-qubit vectors ``v`` from the state's cotangent ``cot``: for
    qubit ``w``, the cotangent contracted with every other qubit's vector. The wide cotangent is read twice,
    contracted with each half's Kronecker product; each half's qubits then take their gradients from that
    small array (:func:`_gradient_sequential`)."""
    n, rows = v.shape[1], cot.shape[1]
    xp = arrays.of(cot)
    if n == 1:
        out = cot.T[:, None, :]
    else:
        h = n // 2
        hi, lo = xp.contiguous(_kron_rows(v[:, :h]).T), xp.contiguous(_kron_rows(v[:, h:]).T)
        c3 = cot.reshape(hi.shape[0], lo.shape[0], rows)
        # shared halves as vectors: einsum over a broadcast (stride 0) operand ran 4x slower
        on_hi = xp.einsum("hlr,l->hr", c3, lo[:, 0]) if lo.shape[1] == 1 else xp.einsum("hlr,lr->hr", c3, lo)
        on_lo = xp.einsum("hlr,h->lr", c3, hi[:, 0]) if hi.shape[1] == 1 else xp.einsum("hlr,hr->lr", c3, hi)
        out = xp.cat([_gradient_sequential(v[:, :h], on_hi), _gradient_sequential(v[:, h:], on_lo)], 1)
    return out.sum(0)[None] if v.shape[0] == 1 else out


def _forward(layout: DensityLayout, state, mats, at, keep):
    """The final state and the stage inputs kept for the backward pass: stage ``s``'s when ``keep(s)``;
    every other state goes back to the layout's buffers."""
    kept = {}
    for s in range(len(mats)):
        if keep(s):
            kept[s] = state
        new = layout.run(s, state, mats, at)
        if s not in kept:
            layout.buffers.give(state)
        state = new
    return state, kept


def _inputs_backward(layout: DensityLayout, kept: dict, stages, at, every: int | None):
    """``(s, input of stage s or None, whether it was run again)`` from the last stage to the first. With
    ``every`` None the inputs are those kept; else one in ``every`` was kept and each segment is run again
    from its start."""
    if every is None:
        for s in range(len(stages) - 1, -1, -1):
            yield s, kept.get(s), False
        return
    end = len(stages)
    for s0 in sorted(kept, reverse=True):
        inputs = [kept[s0]]
        for s in range(s0, end - 1):
            inputs.append(layout.run(s, inputs[-1], stages, at))
        for s in range(end - 1, s0 - 1, -1):
            yield s, inputs[s - s0], s > s0
        end = s0


class DensityCall(torch.autograd.Function):
    """``(layout, start (R, n, 4) per-qubit vectors of the product start state (R: B or 1), B, *stage matrices
    (Q, d, d) or None for gathers) -> (B, n_obs)`` expectation values (float64)."""

    @staticmethod
    def forward(ctx, layout: DensityLayout, start: torch.Tensor, rows: int, *mats):
        at = NUMPY if start.device.type == "cpu" and 4**layout.n <= NUMPY_AMPLITUDES else start.device
        vectors = _as(start, at)
        state = product_state(vectors, rows, layout.buffers)
        stages = [None if m is None else _as(m, at) for m in mats]
        # a stage's input is needed for its matrix's gradient (a gather has none)
        needed = [
            w and not isinstance(step, Gather)
            for w, step in zip(ctx.needs_input_grad[3:], layout.steps, strict=True)
        ]
        per_state = state.shape[0] * state.shape[1] * 8
        ctx.every = None
        if not any(ctx.needs_input_grad):
            keep = lambda s: False  # noqa: E731
        elif per_state * sum(needed) <= KEEP_BYTES:
            keep = needed.__getitem__
        else:
            ctx.every = max(1, math.isqrt(len(mats)))
            keep = lambda s: s % ctx.every == 0  # noqa: E731
        final, kept = _forward(layout, state, stages, at, keep)
        out = final[layout.words].T
        layout.buffers.give(final)
        ctx.layout, ctx.at, ctx.kept, ctx.stages, ctx.vectors = layout, at, kept, stages, vectors
        ctx.shape = tuple(state.shape)
        return torch.as_tensor(out) if at == NUMPY else out

    @staticmethod
    def backward(ctx, grad):
        layout, at, stages = ctx.layout, ctx.at, ctx.stages
        g = _as(grad, at)
        if at == NUMPY:
            cot = layout.buffers.take(ctx.shape)
            cot.fill(0.0)
        else:
            cot = torch.zeros(ctx.shape, dtype=torch.float64, device=at)
        for j, word in enumerate(layout.words):
            cot[word] += g[:, j]
        wanted = ctx.needs_input_grad[3:]
        grads: list = [None] * len(stages)
        for s, x, recomputed in _inputs_backward(layout, ctx.kept, stages, at, ctx.every):
            step = layout.steps[s]
            if isinstance(step, Singles) and wanted[s]:
                cot, grads[s] = step.backward(x, cot, stages[s], layout.buffers)
            else:
                if wanted[s] and not isinstance(step, Gather):
                    m = stages[s]
                    gm = kernels.matrix_gradient(cot, x, step, 2 * layout.n, m.shape[0] > 1)
                    grads[s] = gm.reshape(m.shape)
                new = layout.run(s, cot, stages, at, transpose=True)
                layout.buffers.give(cot)
                cot = new
            if recomputed:
                layout.buffers.give(x)
        start = product_state_gradient(ctx.vectors, cot) if ctx.needs_input_grad[1] else None
        layout.buffers.give(cot, *ctx.kept.values())
        if at == NUMPY:
            start = None if start is None else torch.as_tensor(start)
            grads = [None if x is None else torch.as_tensor(x) for x in grads]
        ctx.kept = ctx.stages = ctx.vectors = None
        return (None, start, None, *grads)
