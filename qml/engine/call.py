"""One call of a compiled circuit as one autograd function, with its backward pass written out.

Forward: every gate matrix from the sources ``[inputs, weights, 1]`` (:class:`.program.Rotations`), the
chains' products, the prefix vectors and the block matrices, then the state-sized work of :mod:`.evolve`.
Backward retraces the same steps in reverse by hand, so a step records no autograd graph of small tensors:
the state's cotangent gives the stages' gradients (:mod:`.evolve`), those give the chains' and the gates',
and each rotation's ``dM/dt = f (-sin(f t) C + cos(f t) S)`` gives ``dL/dt = Re sum conj(dL/dM) dM/dt``
(torch's convention for complex tensors), added into the sources and from there into inputs and weights.
"""

from __future__ import annotations

import torch

from . import evolve, kernels
from .program import ChainBlock, Program


def _rotations(r: dict, src: torch.Tensor):
    ft = r["freq"] * (r["scale"] * src[:, r["f0"]] * src[:, r["f1"]] + r["offset"])
    return r["a"] + torch.cos(ft)[..., None, None] * r["c"] + torch.sin(ft)[..., None, None] * r["s"], ft


def _rotations_backward(r: dict, src, ft, grad_m, grad_src) -> None:
    dm = -torch.sin(ft)[..., None, None] * r["c"] + torch.cos(ft)[..., None, None] * r["s"]
    g = (grad_m.conj() * dm).real.sum((-1, -2)) * (r["freq"] * r["scale"])
    grad_src.index_add_(1, r["f0"], g * src[:, r["f1"]])
    grad_src.index_add_(1, r["f1"], g * src[:, r["f0"]])


def _kron(factors: torch.Tensor) -> list[torch.Tensor]:
    """``(Q, k, 2, 2)`` -> partial Kronecker products; the last is the block's ``(Q, 2**k, 2**k)`` matrix."""
    out = [factors[:, 0]]
    for u in range(1, factors.shape[1]):
        a, f = out[-1], factors[:, u]
        out.append((a[:, :, None, :, None] * f[:, None, :, None, :]).flatten(1, 2).flatten(2, 3))
    return out


def _kron_backward(grad: torch.Tensor, factors: torch.Tensor, partial: list[torch.Tensor]) -> torch.Tensor:
    grads = [None] * factors.shape[1]
    conj = factors.conj()
    for u in range(factors.shape[1] - 1, 0, -1):
        a = partial[u - 1].shape[-1]
        g = grad.reshape(grad.shape[0], a, 2, a, 2)
        grads[u] = (g * partial[u - 1].conj()[:, :, None, :, None]).sum((1, 3))
        grad = (g * conj[:, u, None, :, None, :]).sum((2, 4))
    grads[0] = grad
    return torch.stack(grads, dim=1)


class _Step:
    """One call: the forward pass, and what its backward pass reads."""

    def __init__(self, prog: Program, inputs: torch.Tensor, weights: torch.Tensor):
        self.prog, self.batch, device = prog, inputs.shape[0], weights.device
        self.t = prog.tensors(device)
        b, flat = self.batch, weights.reshape(1, -1).to(torch.float64)
        one = torch.ones(1, 1, dtype=torch.float64, device=device)
        zeros = torch.zeros(1, prog.n_inputs, dtype=torch.float64, device=device)
        self.src = {False: torch.cat([zeros, flat, one], 1)}
        self.src[True] = torch.cat([inputs.to(torch.float64), flat.expand(b, -1), one.expand(b, 1)], 1)
        self.shared, self.rows, self.ft = {}, {}, {}
        for d in prog.widths:
            parts = [self.t["constants"][d]] if d in self.t["constants"] else []
            if (d, False) in self.t["rotations"]:
                m, self.ft[(d, False)] = _rotations(self.t["rotations"][(d, False)], self.src[False])
                parts.append(m)
            if parts:
                self.shared[d] = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
            if (d, True) in self.t["rotations"]:
                self.rows[d], self.ft[(d, True)] = _rotations(self.t["rotations"][(d, True)], self.src[True])
        self.chain_mats, self.chain_partial = {}, {}
        for row, table in self.t["chains"].items():
            if table.shape[0]:
                mats = self._chain_bank(row)[:, table]  # (Q, chains, steps, 2, 2)
                partial = [mats[:, :, 0]]
                for step in range(1, table.shape[1]):
                    partial.append(mats[:, :, step] @ partial[-1])
                self.chain_mats[row], self.chain_partial[row] = mats, partial
        self._stages()

    def _chain_bank(self, row: bool) -> torch.Tensor:
        shared = self.shared[2]
        return torch.cat([shared.expand(self.batch, -1, -1, -1), self.rows[2]], 1) if row else shared

    def chain(self, c: int, rows: int) -> torch.Tensor:
        """Chain ``c``'s product as ``(rows, 2, 2)`` (a shared chain broadcast)."""
        out = self.chain_partial[self.prog.chain_row[c]][-1][:, self.prog.chain_pos[c]]
        return out if out.shape[0] == rows else out.expand(rows, 2, 2)

    def _stages(self) -> None:
        prog, b = self.prog, self.batch
        per_row = any(s[0] != "perm" and (s[1] if s[0] == "diag" else s[2]).per_row for s in prog.stages)
        self.vector_rows = b if per_row or any(prog.chain_row[: prog.n]) else 1
        self.vectors = self._prefix_vectors()
        self.stages, self.mats, self.blocks = [], [], []
        for stage, dev in zip(prog.stages, self.t["stages"], strict=True):
            if stage[0] == "perm":
                self.stages.append(dev)
                continue
            if stage[0] == "diag":
                self.stages.append(("diag", stage[1].per_row))
                self.mats.append(stage[1].forward(self.src[stage[1].per_row]))
                self.blocks.append(None)
                continue
            info, q = stage[2], b if stage[2].per_row else 1
            if isinstance(info, ChainBlock):
                factors = torch.stack([self.chain(c, q) for c in info.chains], dim=1)
                partial = _kron(factors)
                self.blocks.append((factors, partial))
                m = partial[-1]
            else:
                m, xs = self._gate_block(info)
                self.blocks.append(xs)
            self.stages.append(("block", stage[1], info.per_row))
            self.mats.append(m if info.per_row else m[0])

    def _prefix_vectors(self) -> torch.Tensor:
        """``(rows, n, 2)``: each wire's prefix chain applied to ``|0>``, one gather per kind of chain."""
        parts = []
        for row in (False, True):
            index = self.t["prefix"][row]
            if index.shape[0]:
                parts.append(self.chain_partial[row][-1][:, index, :, 0].expand(self.vector_rows, -1, -1))
        vectors = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        order = self.t["prefix_order"]
        return vectors if order is None else vectors[:, order]

    def matrix(self, d: int, per_row: bool, slot: int) -> torch.Tensor:
        return self.rows[d][:, slot] if per_row else self.shared[d][0, slot]

    def _gate_block(self, info):
        size = 2**info.k
        x = torch.eye(size, dtype=torch.complex128, device=self.src[False].device)
        xs, q = [], 1
        for d, per_row, slot, wires in info.gates:
            if per_row and q == 1:
                q = self.batch
                x = x[:, :, None].expand(size, size, q).reshape(size, size * q)
            xs.append(x)
            x = kernels.apply(x, self.matrix(d, per_row, slot), wires, info.k)
        return x.reshape(size, size, q).permute(2, 0, 1), xs


class _Grads:
    """Gradients of the step's intermediate tensors, added up as the backward pass reaches them."""

    def __init__(self, step: _Step):
        self.shared = {d: torch.zeros_like(m) for d, m in step.shared.items()}
        self.rows = {d: torch.zeros_like(m) for d, m in step.rows.items()}
        self.chains = {row: torch.zeros_like(p[-1]) for row, p in step.chain_partial.items()}
        self.src = {row: torch.zeros_like(s) for row, s in step.src.items()}

    def add_matrix(self, d, per_row, slot, grad) -> None:
        if per_row:
            self.rows[d][:, slot] += grad
        else:
            self.shared[d][0, slot] += grad if grad.ndim == 2 else grad.sum(0)

    def add_chain(self, step: _Step, c: int, grad: torch.Tensor) -> None:
        row, pos = step.prog.chain_row[c], step.prog.chain_pos[c]
        self.chains[row][:, pos] += grad if row or grad.shape[0] == 1 else grad.sum(0, keepdim=True)


def _gate_block_backward(step: _Step, info, xs, grad_m, grads: _Grads) -> None:
    size, q = 2**info.k, grad_m.shape[0]
    g = grad_m.permute(1, 2, 0).reshape(size, size * q)
    for j in range(len(info.gates) - 1, -1, -1):
        d, per_row, slot, wires = info.gates[j]
        u = step.matrix(d, per_row, slot)
        if g.shape[1] != xs[j].shape[1]:  # the gate before the first per-row one: columns were repeated
            g = g.reshape(size, size, -1).sum(-1)
        rows = step.batch if per_row else None
        grads.add_matrix(d, per_row, slot, kernels.matrix_gradient(g, xs[j], wires, info.k, per_row, rows))
        g = kernels.apply(g, u.conj().transpose(-1, -2), wires, info.k)


def _backward(step: _Step, grad_values: torch.Tensor, saved) -> tuple[torch.Tensor, torch.Tensor]:
    prog, t = step.prog, step.t
    grad_vectors, grad_mats = evolve.backward(saved, grad_values)
    grads = _Grads(step)
    _prefix_backward(step, grad_vectors, grads)
    m = 0
    for stage, block in zip([s for s in prog.stages if s[0] != "perm"], step.blocks, strict=True):
        grad_m = grad_mats[m]
        m += 1
        if stage[0] == "diag":
            stage[1].backward(
                step.src[stage[1].per_row], step.mats[m - 1], grad_m, grads.src[stage[1].per_row]
            )
            continue
        info = stage[2]
        grad_m = grad_m if grad_m.ndim == 3 else grad_m[None]
        if isinstance(info, ChainBlock):
            factors, partial = block
            grad_factors = _kron_backward(grad_m, factors, partial)
            for u, c in enumerate(info.chains):
                grads.add_chain(step, c, grad_factors[:, u])
        else:
            _gate_block_backward(step, info, block, grad_m, grads)
    for row, mats in step.chain_mats.items():
        _chain_backward(step, row, mats, grads)
    for (d, row), r in t["rotations"].items():
        grad = grads.rows[d] if row else grads.shared[d][:, len(prog.constants.get(d, ())) :]
        _rotations_backward(r, step.src[row], step.ft[(d, row)], grad, grads.src[row])
    n_in, n_w = prog.n_inputs, prog.n_weights
    grad_weights = grads.src[False][0, n_in : n_in + n_w] + grads.src[True][:, n_in : n_in + n_w].sum(0)
    return grads.src[True][:, :n_in], grad_weights


def _prefix_backward(step: _Step, grad_vectors: torch.Tensor, grads: _Grads) -> None:
    order = step.t["prefix_order"]
    if order is not None:
        grad_vectors = grad_vectors[:, step.t["prefix_unorder"]]
    start = 0
    for row in (False, True):
        index = step.t["prefix"][row]
        if not index.shape[0]:
            continue
        grad = grad_vectors[:, start : start + index.shape[0]]
        start += index.shape[0]
        if not row and grad.shape[0] > 1:
            grad = grad.sum(0, keepdim=True)
        grads.chains[row][:, :, :, 0].index_add_(1, index, grad)


def _chain_backward(step: _Step, row: bool, mats: torch.Tensor, grads: _Grads) -> None:
    partial, g = step.chain_partial[row], grads.chains[row]
    steps = [None] * mats.shape[2]
    adjoint = mats.conj().transpose(-1, -2)
    for s in range(mats.shape[2] - 1, 0, -1):
        steps[s] = g @ partial[s - 1].conj().transpose(-1, -2)
        g = adjoint[:, :, s] @ g
    steps[0] = g
    grad_mats = torch.stack(steps, dim=2)
    table = step.t["chains"][row]
    size = step.shared[2].shape[1]
    bank = mats.new_zeros(mats.shape[0], size + (step.rows[2].shape[1] if row else 0), 2, 2)
    bank.index_add_(1, table.reshape(-1), grad_mats.reshape(mats.shape[0], -1, 2, 2))
    if not row:
        grads.shared[2] += bank
        return
    grads.shared[2] += bank[:, :size].sum(0, keepdim=True)
    grads.rows[2] += bank[:, size:]


class EngineCall(torch.autograd.Function):
    """``(program, inputs (B, n_inputs), weights) -> (B, n_observables)`` expectation values."""

    @staticmethod
    def forward(ctx, prog: Program, inputs, weights):
        step = _Step(prog, inputs, weights)
        values, saved = evolve.forward(step.vectors, step.stages, step.mats, prog.n, prog.traced.observables)
        ctx.step, ctx.saved, ctx.weight_shape = step, saved, weights.shape
        return values.T.expand(step.batch, -1).contiguous() if values.shape[1] == 1 else values.T.contiguous()

    @staticmethod
    def backward(ctx, grad):
        step = ctx.step
        rows = ctx.saved["psi"].shape[1]
        grad_values = grad.T if rows == grad.shape[0] else grad.sum(0, keepdim=True).T
        grad_inputs, grad_weights = _backward(step, grad_values.contiguous(), ctx.saved)
        del ctx.step, ctx.saved
        return None, grad_inputs, grad_weights.reshape(ctx.weight_shape)
