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

from . import kernels
from .arrays import NUMPY

#: The pass inputs kept for the backward pass; past this, segments are run again.
KEEP_BYTES = 256 * 2**20
#: Calls with at most this many amplitudes per row on the CPU run on numpy (cheaper per operation).
NUMPY_AMPLITUDES = 2**15


class DensityLayout:
    """What every call of a plan needs: each pass's bits in the ``2n``-bit coefficient index (qubit ``w`` owns
    bits ``2w, 2w + 1``), and the index of each measured Z word's coefficient."""

    def __init__(self, n_wires: int, pass_wires, observables):
        self.n = n_wires
        self.bits = [tuple(b for w in wires for b in (2 * w, 2 * w + 1)) for wires in pass_wires]
        self.words = [sum(3 * 4 ** (n_wires - 1 - w) for w in wires) for wires in observables]


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
    """``(layout, start (4**n, B), *pass matrices (Q, d, d)) -> (B, n_obs)`` expectation values (float64)."""

    @staticmethod
    def forward(ctx, layout: DensityLayout, start: torch.Tensor, *mats: torch.Tensor):
        at = NUMPY if start.device.type == "cpu" and start.shape[0] <= NUMPY_AMPLITUDES else start.device
        state = _as(start, at)
        arrays = [_as(m, at) for m in mats]
        per_state = start.element_size() * start.numel()
        keep_every = 1 if per_state * len(mats) <= KEEP_BYTES else max(1, math.isqrt(len(mats)))
        final, kept = _forward(layout, state, arrays, keep_every)
        out = final[layout.words].T
        ctx.layout, ctx.at, ctx.kept, ctx.arrays = layout, at, kept, arrays
        return torch.as_tensor(out) if at == NUMPY else out

    @staticmethod
    def backward(ctx, grad):
        layout, at, arrays = ctx.layout, ctx.at, ctx.arrays
        g = _as(grad, at)
        first = ctx.kept[0]
        cot = np.zeros(first.shape) if at == NUMPY else torch.zeros_like(first)
        for j, word in enumerate(layout.words):
            cot[word] += g[:, j]
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
