"""The passes over a batch of vectorised density matrices, forward and backward, as one autograd function.

The small matrices of a call (each pass's ``4**k`` superoperator, each qubit's starting ``2 x 2`` state) are
built by torch from the angles, so autograd carries their gradients to the inputs and weights. What this
module writes out by hand is the expensive part: the passes over the ``(4**n, B)`` states. Superoperators are
not unitary, so the backward pass cannot undo them as the statevector engine does: it keeps the input of
every pass while they fit in :data:`KEEP_BYTES`, and past that keeps one in ``step`` and runs each segment
again from its start (two forward passes' work for ``O(sqrt(passes))`` states).

``<Z...Z>`` reads the diagonal of each density matrix (the probabilities) through a sign matrix.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import kernels
from .arrays import NUMPY, place

#: The pass inputs kept for the backward pass; past this, segments are run again.
KEEP_BYTES = 256 * 2**20
#: Calls with at most this many amplitudes per row on the CPU run on numpy (cheaper per operation).
NUMPY_AMPLITUDES = 2**15


class DensityLayout:
    """What every call of a plan needs: each pass's bits in the doubled register, the diagonal's positions,
    the sign matrix of the observables (per device, built once)."""

    def __init__(self, n_wires: int, pass_wires, observables):
        self.n = n_wires
        self.bits = [tuple(b for w in wires for b in (2 * w, 2 * w + 1)) for wires in pass_wires]
        basis = np.arange(2**n_wires)
        bits = (basis[:, None] >> (n_wires - 1 - np.arange(n_wires))) & 1
        self.diagonal = (bits * 3) @ (4 ** (n_wires - 1 - np.arange(n_wires)))
        signs = np.ones((2**n_wires, len(observables)))
        for j, wires in enumerate(observables):
            for w in wires:
                signs[:, j] *= 1 - 2 * bits[:, w]
        self.signs = signs
        self._placed: dict = {}

    def placed(self, at):
        if at not in self._placed:
            self._placed[at] = (place(self.diagonal, at), place(self.signs, at))
        return self._placed[at]


def _as(x: torch.Tensor, at):
    return x.detach().numpy() if at == NUMPY else x


def _forward(layout: DensityLayout, state, mats, keep_every: int):
    kept = {0: state}
    for s, m in enumerate(mats):
        if s % keep_every == 0:
            kept[s] = state
        state = kernels.apply(state, m, layout.bits[s], 2 * layout.n)
    return state, kept


class DensityCall(torch.autograd.Function):
    """``(layout, start (4**n, B) complex, *pass matrices (Q, d, d)) -> (B, n_obs)`` expectation values."""

    @staticmethod
    def forward(ctx, layout: DensityLayout, start: torch.Tensor, *mats: torch.Tensor):
        at = NUMPY if start.device.type == "cpu" and start.shape[0] <= NUMPY_AMPLITUDES else start.device
        state = _as(start, at)
        arrays = [_as(m, at) for m in mats]
        per_state = state.shape[0] * state.shape[1] * 16
        keep_every = 1 if per_state * len(mats) <= KEEP_BYTES else max(1, math.isqrt(len(mats)))
        final, kept = _forward(layout, state, arrays, keep_every)
        diagonal, signs = layout.placed(at)
        probs = final[diagonal].real
        out = (signs.T @ probs).T
        ctx.layout, ctx.at, ctx.kept, ctx.keep_every, ctx.arrays = layout, at, kept, keep_every, arrays
        ctx.rows = start.shape[1]
        out = torch.as_tensor(out) if at == NUMPY else out
        return out.to(start.real.dtype)

    @staticmethod
    def backward(ctx, grad):
        layout, at, arrays = ctx.layout, ctx.at, ctx.arrays
        diagonal, signs = layout.placed(at)
        g = _as(grad, at)
        first = ctx.kept[0]
        cot = np.zeros_like(first) if at == NUMPY else torch.zeros_like(first)
        cot[diagonal] = signs @ g.T + 0j
        wanted = ctx.needs_input_grad[2:]
        grads: list = [None] * len(arrays)
        n2 = 2 * layout.n
        starts = sorted(ctx.kept, reverse=True)
        end = len(arrays)
        for s0 in starts:
            # the inputs of passes s0 .. end-1, run again from the kept input of s0
            inputs = [ctx.kept[s0]]
            for s in range(s0, end - 1):
                inputs.append(kernels.apply(inputs[-1], arrays[s], layout.bits[s], n2))
            for s in range(end - 1, s0 - 1, -1):
                m, x = arrays[s], inputs[s - s0]
                if wanted[s]:
                    per_row = m.shape[0] > 1
                    gm = kernels.matrix_gradient(cot, x, layout.bits[s], n2, per_row)
                    grads[s] = gm.reshape(m.shape)
                cot = kernels.apply(cot, m.conj().swapaxes(-1, -2), layout.bits[s], n2)
            end = s0
        if at == NUMPY:
            cot = torch.as_tensor(cot)
            grads = [None if x is None else torch.as_tensor(x) for x in grads]
        ctx.kept = ctx.arrays = None
        return (None, cot, *grads)
