"""The state's evolution through a plan's stages, with an adjoint backward pass in O(1) states per row.

Forward, every stage is one pass over the states. Backward does not keep the intermediate states: it
undoes the stages one by one on the output state and on its cotangent, and reads each block matrix's
gradient off the pair at that point: for ``y = U x``, ``dU = cot_y x^H`` summed
over rows (or per row, for a block that holds inputs) and ``cot_x = U^H cot_y``.
"""

from __future__ import annotations

import torch

from . import kernels


class Evolve(torch.autograd.Function):
    """``psi0 -> psi`` (``(2**n, Q)``) through ``stages``: ``("perm", index, inverse)``, ``("block", wires,
    per_row)`` whose matrix is the next of ``mats``, or ``("diag", per_row)`` whose ``(2**n, 1 or Q)`` phase
    factors are the next of ``mats``."""

    @staticmethod
    def forward(ctx, stages, n, psi0, *mats):
        x = psi0
        it = iter(mats)
        for stage in stages:
            if stage[0] == "perm":
                x = kernels.permute(x, stage[1])
            elif stage[0] == "diag":
                x = x * next(it)
            else:
                x = kernels.apply(x, next(it), stage[1], n)
        ctx.stages, ctx.n = stages, n
        ctx.save_for_backward(x, *mats)
        return x

    @staticmethod
    def backward(ctx, grad):
        out, *mats = ctx.saved_tensors
        n = ctx.n
        state, cot = out, grad.contiguous()
        grads: list[torch.Tensor | None] = [None] * len(mats)
        m = len(mats)
        for stage in reversed(ctx.stages):
            if stage[0] == "perm":
                state, cot = kernels.permute(state, stage[2]), kernels.permute(cot, stage[2])
                continue
            m -= 1
            wanted = ctx.needs_input_grad[3 + m]
            if stage[0] == "diag":
                undo = mats[m].conj()
                state = state * undo
                if wanted:
                    g = cot * state.conj()
                    grads[m] = g if stage[1] else g.sum(1, keepdim=True)
                cot = cot * undo
                continue
            undo = mats[m].conj().transpose(-1, -2)
            state = kernels.apply(state, undo, stage[1], n)
            if wanted:
                grads[m] = kernels.matrix_gradient(cot, state, stage[1], n, stage[2])
            cot = kernels.apply(cot, undo, stage[1], n)
        grad_psi0 = cot if ctx.needs_input_grad[2] else None
        return None, None, grad_psi0, *grads
