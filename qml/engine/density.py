"""``DensityCircuit``: a noisy quantum function run on vectorised density matrices, with its gradient.

The density engine is the torch engine's twin for mixed states. A circuit ``f(inputs, weights)`` is traced
once down to the gates Aer runs and PennyLane channels (:mod:`.density_plan`); an Aer noise model adds, after
each gate, the error it holds for that gate's name and qubits, exactly where Aer would. Every gate, error and
channel is a superoperator (:mod:`.superops`); one-qubit items fold into a product start state or into the
next pass, so a pass over the ``4**n * B`` amplitudes applies a whole two-qubit block with its noise. The
gradient of every parameter comes from one backward sweep whatever the channels (Kraus, thermal relaxation,
amplitude damping, depolarising), no parameter shift.

Example:
    >>> import pennylane as qp, torch
    >>> def f(x, w):
    ...     qp.RX(x[0], wires=0)
    ...     qp.DepolarizingChannel(0.3, wires=0)
    ...     qp.CNOT([0, 1])
    ...     return [qp.expval(qp.Z(0)), qp.expval(qp.Z(1))]
    >>> circuit = DensityCircuit(f, n_wires=2, n_inputs=1, weight_shape=(1,))
    >>> circuit(torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    tensor([[0.6000, 0.6000]], dtype=torch.float64)
"""

from __future__ import annotations

import numpy as np
import torch

from .density_call import DensityCall, DensityLayout
from .density_plan import keeps, make_items, make_plan
from .memory import keep_freed_memory
from .superops import rotation_form, unitary_superop, unsupported_noise
from .trace import NotTraceable, trace


def _embed(s: torch.Tensor, positions: tuple[int, ...], k: int) -> torch.Tensor:
    """``(L, 4**m, 4**m)`` acting on qubits ``positions`` of a ``k``-qubit pass, as a ``(L, 4**k, 4**k)``."""
    m = len(positions)
    if positions == tuple(range(k)):
        return s
    lead = s.shape[0]
    rest = 4 ** (k - m)
    eye = torch.eye(rest, dtype=s.dtype, device=s.device)
    t = (s[:, :, None, :, None] * eye[None, None, :, None, :]).reshape(lead, *([4] * 2 * k))
    order = list(positions) + [p for p in range(k) if p not in positions]  # axis j holds qubit order[j]
    inverse = [order.index(p) for p in range(k)]
    axes = [0] + [1 + j for j in inverse] + [1 + k + j for j in inverse]
    return t.permute(axes).reshape(lead, 4**k, 4**k)


def _floats(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


class _Rotations:
    """Every rotation item's superoperator (with its error) per row, in one expression per width."""

    def __init__(self, items, indices, n_sources: int):
        self.indices = indices
        one = n_sources  # the column of ones appended to the sources
        forms = [rotation_form(items[i].rotation) for i in indices]
        params = [items[i].param for i in indices]
        factors = [list(p.factors) + [one] * (2 - len(p.factors)) for p in params]
        self.f1 = torch.tensor([f[0] for f in factors])
        self.f2 = torch.tensor([f[1] for f in factors])
        self.scale = _floats([items[i].scale * p.scale for i, p in zip(indices, params, strict=True)])
        self.offset = _floats([items[i].scale * p.offset for i, p in zip(indices, params, strict=True)])
        self.freq = _floats([f for f, *_ in forms])
        self.a, self.c, self.s = (torch.as_tensor(np.stack([form[j] for form in forms])) for j in (1, 2, 3))
        d2 = self.a.shape[-1] ** 2
        errors = [items[i].error if items[i].error is not None else np.eye(d2) for i in indices]
        self.errors = torch.as_tensor(np.stack(errors).astype(np.complex128))

    def __call__(self, sources: torch.Tensor) -> torch.Tensor:
        """``(R, G, d*d, d*d)`` from the ``(R, n_sources + 1)`` sources."""
        t = self.scale * sources[:, self.f1] * sources[:, self.f2] + self.offset
        ft = self.freq * t
        cos = torch.cos(ft)[..., None, None].to(self.a.dtype)
        sin = torch.sin(ft)[..., None, None].to(self.a.dtype)
        u = self.a + cos * self.c + sin * self.s
        return self.errors @ unitary_superop(u, torch)


class DensityCircuit:
    """``fn(inputs, weights)`` compiled for the density engine under an Aer ``noise_model`` (or None, for a
    circuit whose noise is PennyLane channels); call it with ``(B, n_inputs)`` inputs and the weights.

    Raises:
        NotTraceable: (a ``ValueError``) a gate, parameter, measurement or noise model the engine does not
            run; the message names it.
    """

    def __init__(self, fn, n_wires: int, n_inputs: int, weight_shape: tuple[int, ...], noise_model=None):
        reason = unsupported_noise(noise_model)
        if reason is not None:
            raise NotTraceable(reason)
        keep_freed_memory()
        self.n_wires = n_wires
        self.traced = trace(fn, n_wires, n_inputs, tuple(weight_shape), keep=keeps)
        items = make_items(self.traced, noise_model)
        self.plan = make_plan(n_wires, items)
        self.layout = DensityLayout(n_wires, [p.wires for p in self.plan.passes], self.traced.observables)
        n_sources = self.traced.n_inputs + self.traced.n_weights
        self._row_items = {
            i
            for i, item in enumerate(items)
            if item.param is not None and any(f < n_inputs for f in item.param.factors)
        }
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            if item.rotation is not None:
                groups.setdefault(len(item.wires), []).append(i)
        self._rotations = [_Rotations(items, idx, n_sources) for idx in groups.values()]
        self._constants = {
            i: torch.as_tensor(item.constant if item.error is None else item.error @ item.constant)[None]
            for i, item in enumerate(items)
            if item.rotation is None
        }

    def _superops(self, inputs: torch.Tensor, weights: torch.Tensor) -> dict:
        rows = inputs.shape[0]
        w = weights.reshape(1, -1).to(torch.float64).expand(rows, -1)
        ones = torch.ones(rows, 1, dtype=torch.float64, device=inputs.device)
        sources = torch.cat([inputs.to(torch.float64), w, ones], dim=1)
        ops = dict(self._constants)
        for group in self._rotations:
            mats = group(sources)
            for j, i in enumerate(group.indices):
                ops[i] = mats[:, j] if i in self._row_items else mats[:1, j]
        return ops

    def _start(self, ops: dict, rows: int) -> torch.Tensor:
        state = None
        for chain in self.plan.prefix:
            v = torch.zeros(1, 4, dtype=torch.complex128)
            v[0, 0] = 1
            for i in chain:
                v = (ops[i] @ v[..., None])[..., 0]
            state = (
                v
                if state is None
                else (state[:, :, None] * v[:, None, :]).reshape(max(len(state), len(v)), -1)
            )
        return state.expand(rows, -1).T.contiguous()

    def _pass_matrix(self, ops: dict, p) -> torch.Tensor:
        k = len(p.wires)
        matrix = None
        for i in p.items:
            item = self.plan.items[i]
            m = _embed(ops[i], tuple(p.wires.index(w) for w in item.wires), k)
            matrix = m if matrix is None else m @ matrix
        return matrix

    def __call__(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``(B, n_inputs)`` float inputs and the weights -> ``(B, n_observables)`` expectation values."""
        if inputs.shape[0] == 0:
            return weights.new_zeros(0, len(self.traced.observables)) + 0 * weights.sum()
        ops = self._superops(inputs, weights)
        start = self._start(ops, inputs.shape[0])
        mats = [self._pass_matrix(ops, p) for p in self.plan.passes]
        return DensityCall.apply(self.layout, start, *mats)
