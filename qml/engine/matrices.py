"""Every gate matrix of a call, computed at once: one vectorised expression per width and kind.

Gates are sorted once into *shared* matrices (constants, and rotations by weights: the same for every row)
and *per-row* matrices (rotations by inputs). ``MatrixBank.build`` returns, per width ``d``, a ``(1, G, d, d)``
tensor of the shared ones and a ``(B, G, d, d)`` tensor of the per-row ones, and :attr:`MatrixBank.slot`
says where each gate's matrix is. Slot 0 of the shared 2x2 matrices is the identity (chains are padded with
it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .gates import fixed_matrix, trig_constants
from .trace import TracedCircuit

Cache = Callable[[object, np.ndarray], torch.Tensor]  # (key, array) -> the array as a tensor on the device


def _constant_matrix(gate) -> np.ndarray:
    if gate.param is None:
        return fixed_matrix(gate.op)
    f, a, c, s = trig_constants(gate.op)
    t = gate.param.offset
    return a + np.cos(f * t) * c + np.sin(f * t) * s


class _Rotations:
    """``A + cos(f t) C + sin(f t) S`` with ``t = scale * source[f0] * source[f1] + offset`` for a group of
    gates of one width (a single-factor parameter's second factor is the sources' trailing 1)."""

    def __init__(self, traced: TracedCircuit, gates: list):
        forms = [trig_constants(g.op) for g in gates]
        one = traced.n_inputs + traced.n_weights
        factors = [list(g.param.factors) + [one] * (2 - len(g.param.factors)) for g in gates]
        self.arrays = {
            "freq": np.array([f[0] for f in forms]),
            "a": np.stack([f[1] for f in forms]),
            "c": np.stack([f[2] for f in forms]),
            "s": np.stack([f[3] for f in forms]),
            "scale": np.array([g.param.scale for g in gates]),
            "offset": np.array([g.param.offset for g in gates]),
            "f0": np.array([f[0] for f in factors]),
            "f1": np.array([f[1] for f in factors]),
        }

    def matrices(self, sources: torch.Tensor, cache: Cache) -> torch.Tensor:
        c = {name: cache((id(self), name), value) for name, value in self.arrays.items()}
        t = c["scale"] * sources[:, c["f0"]] * sources[:, c["f1"]] + c["offset"]
        ft = (c["freq"] * t)[..., None, None]
        return c["a"] + torch.cos(ft) * c["c"] + torch.sin(ft) * c["s"]


class MatrixBank:
    def __init__(self, traced: TracedCircuit, gate_ids: list[int]):
        constants: dict[int, list] = {2: [np.eye(2, dtype=np.complex128)]}
        shared: dict[int, list] = {}
        rows: dict[int, list] = {}
        placed = []
        for i in gate_ids:
            gate = traced.gates[i]
            d = 2 ** len(gate.wires)
            if gate.param is None or not gate.param.factors:
                group = constants.setdefault(d, [])
                group.append(_constant_matrix(gate))
            else:
                per_row = any(f < traced.n_inputs for f in gate.param.factors)
                group = (rows if per_row else shared).setdefault(d, [])
                group.append(gate)
            placed.append((i, d, group is rows.get(d), group, len(group) - 1))
        self.constants = {d: np.stack(ms) for d, ms in constants.items()}
        self.shared = {d: _Rotations(traced, gs) for d, gs in shared.items()}
        self.rows = {d: _Rotations(traced, gs) for d, gs in rows.items()}
        #: gate -> (width, per_row, index in that width's shared or per-row tensor)
        self.slot: dict[int, tuple[int, bool, int]] = {}
        for i, d, per_row, group, j in placed:
            offset = len(constants.get(d, ())) if group is shared.get(d) else 0
            self.slot[i] = (d, per_row, offset + j)

    def per_row(self, gate: int) -> bool:
        return self.slot[gate][1]

    def build(self, shared_src: torch.Tensor, row_src: torch.Tensor, cache: Cache) -> tuple[dict, dict]:
        shared = {}
        for d in set(self.constants) | set(self.shared):
            parts = [cache(("const", d), self.constants[d])[None]] if d in self.constants else []
            if d in self.shared:
                parts.append(self.shared[d].matrices(shared_src, cache))
            shared[d] = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        rows = {d: group.matrices(row_src, cache) for d, group in self.rows.items()}
        return shared, rows
