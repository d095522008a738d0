"""``CompiledCircuit``: a quantum function traced once, then run on torch tensors with no PennyLane in the call.

A call computes every gate matrix of the circuit at once (:mod:`.matrices`), multiplies the one-qubit
chains of the prefix and of one-qubit blocks together in a few batched products, builds the prefix state and
the block matrices from them, runs :class:`.evolve.Evolve`, and reads the ``<Z...Z>`` values off the
probabilities. All of it is differentiable by torch autograd: the block matrices through the adjoint pass of
``Evolve``, the rest by ordinary backpropagation over small tensors. It runs wherever its tensors are (CPU,
CUDA), in complex128.

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

import numpy as np
import torch

from . import kernels
from .evolve import Evolve
from .gates import diagonal_phases, gate_kind
from .matrices import Cache, MatrixBank
from .measure import expectations
from .memory import keep_freed_memory
from .phases import DiagonalPhases
from .plan import Block, DiagStage, PermStage, make_plan
from .trace import trace


class _Chains:
    """Products of one-qubit gates per wire (prefix wires and the wires of one-qubit blocks), padded with the
    identity to one length and multiplied step by step for all wires at once; shared and per-row apart."""

    def __init__(self, chains: list[list[int]], bank: MatrixBank):
        self.n_shared = None
        length = max((len(c) for c in chains), default=0) or 1
        self.per_row = [any(bank.per_row(g) for g in c) for c in chains]
        self.index = {}
        for row in (False, True):
            ids = [k for k, c in enumerate(chains) if self.per_row[k] == row]
            table = np.zeros((len(ids), length), dtype=np.int64)  # 0: the identity
            for r, k in enumerate(ids):
                for step, g in enumerate(chains[k]):
                    _, per_row, j = bank.slot[g]
                    table[r, step] = j + (1 << 40 if per_row else 0)  # per-row slots marked, fixed in build
            self.index[row] = (ids, table)
        self.position = {}
        for row in (False, True):
            for r, k in enumerate(self.index[row][0]):
                self.position[k] = (row, r)

    def products(self, shared: dict, rows: dict, cache: Cache) -> dict[bool, torch.Tensor]:
        out = {}
        base = shared[2]
        for row, (ids, table) in self.index.items():
            if not ids:
                continue
            if row:
                bank2 = torch.cat([base.expand(rows[2].shape[0], -1, -1, -1), rows[2]], dim=1)
                table = np.where(table >= 1 << 40, table - (1 << 40) + base.shape[1], table)
            else:
                bank2 = base
            mats = bank2[:, cache(("chain", row), table)]  # (Q, chains, steps, 2, 2)
            prod = mats[:, :, 0]
            for step in range(1, table.shape[1]):
                prod = mats[:, :, step] @ prod
            out[row] = prod
        return out

    def prefix_vectors(self, products: dict, n: int) -> torch.Tensor:
        """``(Q, n, 2)``: each wire's prefix applied to ``|0>`` (the first ``n`` chains are the prefix)."""
        cols = [self.get(products, w)[:, :, 0] for w in range(n)]
        return torch.stack(torch.broadcast_tensors(*cols), dim=1)

    def get(self, products: dict, k: int) -> torch.Tensor:
        row, r = self.position[k]
        return products[row][:, r]


def _kron_vectors(vs: torch.Tensor) -> torch.Tensor:
    """``(Q, n, 2)`` one-qubit states -> their ``(2**n, Q)`` product state."""
    parts = vs.unbind(1)
    out = parts[0].T
    for v in parts[1:]:
        out = (out[:, None, :] * v.T[None, :, :]).flatten(0, 1)
    return out


def _kron_matrices(ms: list[torch.Tensor]) -> torch.Tensor:
    out = ms[0]
    for m in ms[1:]:
        out = (out[:, :, None, :, None] * m[:, None, :, None, :]).flatten(1, 2).flatten(2, 3)
    return out


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
        kinds = [_kind(g.op) for g in self.traced.gates]
        self.plan = make_plan(self.traced, kinds, block_wires)
        matrices = {g for c in self.plan.prefix for g in c} | {
            g for s in self.plan.stages if isinstance(s, Block) for g in s.gates
        }
        self.bank = MatrixBank(self.traced, sorted(matrices))
        self._phases = {
            i: DiagonalPhases(self.traced, s.gates)
            for i, s in enumerate(self.plan.stages)
            if isinstance(s, DiagStage)
        }
        self._blocks = [s for s in self.plan.stages if isinstance(s, Block)]
        chains = list(self.plan.prefix)
        self._chain_of: dict[tuple[int, int], int] = {}
        for b, block in enumerate(self._blocks):
            if self._one_qubit(block):
                for w in block.wires:
                    self._chain_of[(b, w)] = len(chains)
                    chains.append([g for g in block.gates if self.traced.gates[g].wires == (w,)])
        self._chains = _Chains(chains, self.bank)
        self._per_row = [any(self.bank.per_row(g) for g in b.gates) for b in self._blocks]
        self._consts: dict = {}

    def _one_qubit(self, block: Block) -> bool:
        return all(len(self.traced.gates[g].wires) == 1 for g in block.gates) and kernels.contiguous(
            block.wires
        )

    def _cache(self, device: torch.device) -> Cache:
        def get(key, value):
            if (device, key) not in self._consts:
                self._consts[(device, key)] = torch.as_tensor(value).to(device)
            return self._consts[(device, key)]

        return get

    def __call__(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``(B, n_inputs)`` float inputs and the weights -> ``(B, n_observables)`` expectation values."""
        device, batch = weights.device, inputs.shape[0]
        cache = self._cache(device)
        flat = weights.reshape(1, -1).to(torch.float64)
        one = torch.ones(1, 1, dtype=torch.float64, device=device)
        zeros = torch.zeros(1, self.traced.n_inputs, dtype=torch.float64, device=device)
        shared_src = torch.cat([zeros, flat, one], 1)
        row_src = torch.cat([inputs.to(torch.float64), flat.expand(batch, -1), one.expand(batch, 1)], 1)
        shared, rows = self.bank.build(shared_src, row_src, cache)
        products = self._chains.products(shared, rows, cache)
        psi0 = _kron_vectors(self._chains.prefix_vectors(products, self.n_wires))
        stages, mats, b = [], [], 0
        for i, stage in enumerate(self.plan.stages):
            if isinstance(stage, PermStage):
                stages.append(("perm", cache(("perm", i), stage.index), cache(("inv", i), stage.inverse)))
            elif isinstance(stage, DiagStage):
                phases = self._phases[i]
                stages.append(("diag", phases.per_row))
                mats.append(phases(row_src if phases.per_row else shared_src, cache))
            else:
                stages.append(("block", stage.wires, self._per_row[b]))
                mats.append(self._block_matrix(b, stage, shared, rows, products))
                b += 1
        if any(s[-1] is True for s in stages if s[0] != "perm") and psi0.shape[1] == 1:
            psi0 = psi0.expand(-1, batch).contiguous()
        psi = Evolve.apply(stages, self.n_wires, psi0, *mats)
        return expectations(psi, self.traced.observables, self.n_wires, cache).T.expand(batch, -1)

    def _block_matrix(self, b: int, block: Block, shared: dict, rows: dict, products: dict) -> torch.Tensor:
        if (b, block.wires[0]) in self._chain_of:
            m = _kron_matrices([self._chains.get(products, self._chain_of[(b, w)]) for w in block.wires])
        else:
            m = self._gate_by_gate(block, shared, rows)
        return m[0] if m.shape[0] == 1 else m

    def _gate_by_gate(self, block: Block, shared: dict, rows: dict) -> torch.Tensor:
        k = len(block.wires)
        local = {w: i for i, w in enumerate(block.wires)}
        d = 2**k
        ref = next(iter(shared.values()))
        x = torch.eye(d, dtype=ref.dtype, device=ref.device)  # (state, column), then rows last
        q = 1
        for g in block.gates:
            gd, per_row, j = self.bank.slot[g]
            u = rows[gd][:, j] if per_row else shared[gd][0, j]
            if per_row and q == 1:
                q = u.shape[0]
                x = x[:, :, None].expand(d, d, q).reshape(d, d * q)
            x = kernels.apply(x, u, tuple(local[w] for w in self.traced.gates[g].wires), k)
        return x.reshape(d, d, q).permute(2, 0, 1)
