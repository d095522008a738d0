"""A diagonal stage's phases: one vector per parameter source, summed and exponentiated once per call.

Every diagonal gate has entries ``exp(i (phi + m t))`` (:func:`.gates.diagonal_phases`), and its parameter is
``t = scale * source + offset``; so the stage multiplies basis state ``x`` by ``exp(i (c0[x] + sum_e
source_e V[e, x]))``, where ``V`` and ``c0`` are built once here from the gates' local vectors. A QAOA cost
layer depends on one source (its gamma) whatever the number of edges: one product and one exponential a
call.
"""

from __future__ import annotations

import numpy as np

from . import arrays
from .gates import diagonal_phases
from .trace import TracedCircuit


def _spread(local: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
    """A gate's ``2**k`` local values (first wire most significant) shaped to broadcast over the ``[2] * n``
    axes of the register: adding it adds ``local[bits on wires]`` to every basis state, with no index array."""
    values = np.asarray(local).reshape([2] * len(wires)).transpose(np.argsort(wires))
    shape = [1] * n
    for w in wires:
        shape[w] = 2
    return values.reshape(shape)


class DiagonalPhases:
    def __init__(self, traced: TracedCircuit, gates: list[int]):
        n, one = traced.n_wires, traced.n_inputs + traced.n_weights
        # Local vectors are summed per (vector, wires) first, so each distinct wire set costs one pass over the
        # register per vector it feeds (zero contributions none): a QAOA layer's IsingZZ gates have no
        # constant phase, and each edge's two layers feed two vectors.
        local: dict[tuple, np.ndarray] = {}

        def add(target, wires: tuple[int, ...], values: np.ndarray) -> None:
            if np.any(values):
                local[(target, wires)] = local.get((target, wires), 0) + values

        for g in gates:
            gate = traced.gates[g]
            phi, m = diagonal_phases(gate.op)
            add(None, gate.wires, phi)
            if gate.param is None:
                continue
            add(None, gate.wires, gate.param.offset * m)
            if gate.param.factors:
                key = tuple(gate.param.factors) + (one,) * (2 - len(gate.param.factors))
                add(key, gate.wires, gate.param.scale * m)
        full: dict = {None: np.zeros([2] * n)}
        for (target, wires), values in local.items():
            if target not in full:
                full[target] = np.zeros([2] * n)
            full[target] += _spread(values, wires, n)
        c0 = full.pop(None).reshape(-1)
        columns = {key: v.reshape(-1) for key, v in full.items()}
        self.per_row = any(f < traced.n_inputs for key in columns for f in key if f != one)
        self.keys = np.array(list(columns), dtype=np.int64).reshape(-1, 2)
        self.vectors = np.stack(list(columns.values())) if columns else np.zeros((0, 2**n))
        self.c0 = c0
        # one-hot (E, n_sources) matrices: the backward pass adds into the sources with two products
        self.onehot = [np.eye(one + 1)[self.keys[:, i]] for i in (0, 1)]
        self._on: dict = {}

    def _tensors(self, at) -> dict:
        if at not in self._on:
            self._on[at] = {
                "keys": arrays.place(self.keys, at),
                "c0": arrays.place(self.c0[:, None], at),
                "vt": arrays.place(np.ascontiguousarray(self.vectors.T), at),
                "onehot": [arrays.place(m, at) for m in self.onehot],
            }
        return self._on[at]

    def forward(self, sources):
        """``(2**n, Q)`` phase factors from ``(Q, n_sources)`` sources (Q = 1 for a shared stage)."""
        t = self._tensors(arrays.where(sources))
        values = sources[:, t["keys"][:, 0]] * sources[:, t["keys"][:, 1]]  # (Q, E)
        return arrays.of(sources).polar(t["c0"] + t["vt"] @ values.T)

    def backward(self, sources, factors, grad, grad_sources) -> None:
        """Add the sources' gradient, given that of the phase factors (``dD/dphase = i D``)."""
        t = self._tensors(arrays.where(sources))
        grad_phase = -(grad.conj() * factors).imag  # Re(conj(g) i D)
        grad_values = grad_phase.T @ t["vt"]  # (Q, E)
        k0, k1 = t["keys"][:, 0], t["keys"][:, 1]
        first, second = t["onehot"]
        grad_sources += (grad_values * sources[:, k1]) @ first + (grad_values * sources[:, k0]) @ second
