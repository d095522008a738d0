"""One call of a compiled circuit as one autograd function, with its backward pass written out.

Forward: every gate matrix from the sources ``[inputs, weights, 1]`` (:class:`.program.Rotations`), the
chains' products, the prefix vectors and the block matrices, then the state-sized work of :mod:`.evolve`.
Backward retraces the same steps in reverse by hand, so a step records no autograd graph of small tensors:
the state's cotangent gives the stages' gradients (:mod:`.evolve`), those give the chains' and the gates',
and each rotation's ``dM/dt = f (-sin(f t) C + cos(f t) S)`` gives ``dL/dt = Re sum conj(dL/dM) dM/dt``
(torch's convention for complex tensors), added into the sources and from there into inputs and weights.
"""

from __future__ import annotations

import numpy as np
import torch

from . import arrays, evolve, kernels
from .program import ChainBlock, Program


def _rotations(r: dict, src):
    xp = arrays.of(src)
    ft = r["freq"] * (r["scale"] * src[:, r["f0"]] * src[:, r["f1"]] + r["offset"])
    return r["a"] + xp.cos(ft)[..., None, None] * r["c"] + xp.sin(ft)[..., None, None] * r["s"], ft


def _rotations_backward(r: dict, src, ft, grad_m, grad_src) -> None:
    xp = arrays.of(src)
    dm = -xp.sin(ft)[..., None, None] * r["c"] + xp.cos(ft)[..., None, None] * r["s"]
    g = (grad_m.conj() * dm).real.sum((-1, -2)) * (r["freq"] * r["scale"])
    grad_src += (g * src[:, r["f1"]]) @ r["e0"] + (g * src[:, r["f0"]]) @ r["e1"]


def _kron(factors: torch.Tensor) -> list[torch.Tensor]:
    """``(Q, k, 2, 2)`` -> partial Kronecker products; the last is the block's ``(Q, 2**k, 2**k)`` matrix."""
    out = [factors[:, 0]]
    for u in range(1, factors.shape[1]):
        a, f = out[-1], factors[:, u]
        size = 2 * a.shape[-1]
        out.append((a[:, :, None, :, None] * f[:, None, :, None, :]).reshape(a.shape[0], size, size))
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
    return arrays.of(grad).stack(grads, 1)


class _Step:
    """One call: the forward pass, and what its backward pass reads."""

    def __init__(self, prog: Program, inputs, weights):
        """``inputs`` ``(B, n_inputs)`` and ``weights``, float64 numpy arrays or torch tensors alike."""
        self.prog, self.batch, self.xp = prog, inputs.shape[0], arrays.of(weights)
        self.t = prog.tensors(arrays.where(weights))
        xp, b, flat = self.xp, self.batch, weights.reshape(1, -1)
        one = xp.zeros_like(flat[:, :1]) + 1
        self.src = {False: xp.cat([xp.zeros_like(inputs[:1]), flat, one], 1)}
        self.src[True] = xp.cat(
            [inputs, xp.broadcast_to(flat, (b, flat.shape[1])), one + xp.zeros_like(inputs[:, :1])], 1
        )
        self.shared, self.rows, self.ft = {}, {}, {}
        for d in prog.widths:
            parts = [self.t["constants"][d]] if d in self.t["constants"] else []
            if (d, False) in self.t["rotations"]:
                m, self.ft[(d, False)] = _rotations(self.t["rotations"][(d, False)], self.src[False])
                parts.append(m)
            if parts:
                self.shared[d] = self.xp.cat(parts, 1) if len(parts) > 1 else parts[0]
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
        if not row:
            return shared
        return self.xp.cat([self.xp.broadcast_to(shared, (self.batch, *shared.shape[1:])), self.rows[2]], 1)

    def chain(self, c: int, rows: int) -> torch.Tensor:
        """Chain ``c``'s product as ``(rows, 2, 2)`` (a shared chain broadcast)."""
        out = self.chain_partial[self.prog.chain_row[c]][-1][:, self.prog.chain_pos[c]]
        return out if out.shape[0] == rows else self.xp.broadcast_to(out, (rows, 2, 2))

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
                factors = self.xp.stack([self.chain(c, q) for c in info.chains], 1)
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
                part = self.chain_partial[row][-1][..., 0][:, index]
                parts.append(self.xp.broadcast_to(part, (self.vector_rows, *part.shape[1:])))
        vectors = self.xp.cat(parts, 1) if len(parts) > 1 else parts[0]
        order = self.t["prefix_order"]
        return vectors if order is None else vectors[:, order]

    def matrix(self, d: int, per_row: bool, slot: int) -> torch.Tensor:
        return self.rows[d][:, slot] if per_row else self.shared[d][0, slot]

    def _gate_block(self, info):
        size = 2**info.k
        x = self.xp.eye(size, self.shared[2])
        xs, q = [], 1
        for d, per_row, slot, wires in info.gates:
            if per_row and q == 1:
                q = self.batch
                x = self.xp.broadcast_to(x[:, :, None], (size, size, q)).reshape(size, size * q)
            xs.append(x)
            x = kernels.apply(x, self.matrix(d, per_row, slot), wires, info.k)
        return self.xp.permute(x.reshape(size, size, q), (2, 0, 1)), xs


class _Grads:
    """Gradients of the step's intermediate tensors, added up as the backward pass reaches them."""

    def __init__(self, step: _Step):
        zeros = step.xp.zeros_like
        self.shared = {d: zeros(m) for d, m in step.shared.items()}
        self.rows = {d: zeros(m) for d, m in step.rows.items()}
        self.chains = {row: zeros(p[-1]) for row, p in step.chain_partial.items()}
        self.src = {row: zeros(s) for row, s in step.src.items()}

    def add_matrix(self, d, per_row, slot, grad) -> None:
        if per_row:
            self.rows[d][:, slot] += grad
        else:
            self.shared[d][0, slot] += grad if grad.ndim == 2 else grad.sum(0)

    def add_chain(self, step: _Step, c: int, grad: torch.Tensor) -> None:
        row, pos = step.prog.chain_row[c], step.prog.chain_pos[c]
        self.chains[row][:, pos] += grad if row or grad.shape[0] == 1 else grad.sum(0)[None]


def _gate_block_backward(step: _Step, info, xs, grad_m, grads: _Grads) -> None:
    size, q = 2**info.k, grad_m.shape[0]
    g = step.xp.permute(grad_m, (1, 2, 0)).reshape(size, size * q)
    for j in range(len(info.gates) - 1, -1, -1):
        d, per_row, slot, wires = info.gates[j]
        u = step.matrix(d, per_row, slot)
        if g.shape[1] != xs[j].shape[1]:  # the gate before the first per-row one: columns were repeated
            g = g.reshape(size, size, -1).sum(-1)
        rows = step.batch if per_row else None
        grads.add_matrix(d, per_row, slot, kernels.matrix_gradient(g, xs[j], wires, info.k, per_row, rows))
        g = kernels.apply(g, u.conj().swapaxes(-1, -2), wires, info.k)


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
            grad = grad.sum(0)[None]
        grads.chains[row][:, :, :, 0] += step.t["prefix_scatter"][row] @ grad


def _chain_backward(step: _Step, row: bool, mats: torch.Tensor, grads: _Grads) -> None:
    partial, g = step.chain_partial[row], grads.chains[row]
    steps = [None] * mats.shape[2]
    adjoint = mats.conj().swapaxes(-1, -2)
    for s in range(mats.shape[2] - 1, 0, -1):
        steps[s] = g @ partial[s - 1].conj().swapaxes(-1, -2)
        g = adjoint[:, :, s] @ g
    steps[0] = g
    grad_mats = step.xp.stack(steps, 2).reshape(mats.shape[0], -1, 4)
    scatter = step.t["scatter"][row]
    bank = (scatter @ grad_mats).reshape(mats.shape[0], scatter.shape[0], 2, 2)
    size = step.shared[2].shape[1]
    if not row:
        grads.shared[2] += bank
        return
    grads.shared[2] += bank[:, :size].sum(0)[None]
    grads.rows[2] += bank[:, size:]


#: Up to this many amplitudes in a call (2**n x batch) a CPU call runs on numpy arrays (see :mod:`.arrays`);
#: measured on one core, numpy was faster up to 12 qubits x 8 and torch from 12 x 32 on.
NUMPY_AMPLITUDES = 1 << 15


def _on_numpy(prog: Program, inputs: torch.Tensor, weights: torch.Tensor) -> bool:
    return weights.device.type == "cpu" and 2**prog.n * max(inputs.shape[0], 1) <= NUMPY_AMPLITUDES


def _array(x: torch.Tensor, numpy: bool):
    x = x.detach().to(torch.float64)
    return x.contiguous().numpy() if numpy else x


def _tensor(x) -> torch.Tensor:
    return torch.from_numpy(np.require(x, requirements="CW")) if isinstance(x, np.ndarray) else x.contiguous()


class EngineCall(torch.autograd.Function):
    """``(program, inputs (B, n_inputs), weights) -> (B, n_observables)`` expectation values."""

    @staticmethod
    def forward(ctx, prog: Program, inputs, weights):
        numpy = _on_numpy(prog, inputs, weights)
        step = _Step(prog, _array(inputs, numpy), _array(weights, numpy))
        observables, gather = prog.traced.observables, step.t["final_perm"]
        values, saved = evolve.forward(step.vectors, step.stages, step.mats, prog.n, observables, gather)
        ctx.step, ctx.saved, ctx.weight_shape, ctx.numpy = step, saved, weights.shape, numpy
        if values.shape[1] == 1:
            values = step.xp.broadcast_to(values, (values.shape[0], step.batch))
        return _tensor(values.T).to(weights.device)

    @staticmethod
    def backward(ctx, grad):
        step = ctx.step
        rows = ctx.saved["psi"].shape[1]
        grad = _array(grad, ctx.numpy)
        grad_values = grad.T if rows == grad.shape[0] else grad.sum(0)[None].T
        grad_inputs, grad_weights = _backward(step, step.xp.contiguous(grad_values), ctx.saved)
        del ctx.step, ctx.saved
        return None, _tensor(grad_inputs), _tensor(grad_weights).reshape(ctx.weight_shape)


def engine_state(prog: Program, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The ``(B, 2**n)`` states of a forward pass, on the weights' device."""
    numpy = _on_numpy(prog, inputs, weights)
    step = _Step(prog, _array(inputs, numpy), _array(weights, numpy))
    psi, _ = evolve.run(step.stages, step.mats, step.vectors, prog.n, keep=False)
    if step.t["final_perm"] is not None:
        psi = kernels.permute(psi, step.t["final_perm"][1])
    if psi.shape[1] != step.batch:
        psi = step.xp.broadcast_to(psi, (psi.shape[0], step.batch))
    return _tensor(psi.T).to(weights.device)
