"""Small noisy registers on the CPU: a density-engine call as two compiled loops (:mod:`.density_loops`).

:class:`DensityLoopProgram` lays the items of a noisy circuit (:func:`.density_plan.make_items`: each gate
with its error, each channel) out once as the loops' tables: runs of one-qubit items on a wire merged into
one op, each two-qubit item an op of its own; constant items' transfer matrices in the shared banks, every
rotation's ``E K0, E K1, E K2`` in a table :func:`.loops.fill` reads. :class:`DensityLoopCall` is one call
as an autograd function, one compiled call each way.

Like the statevector loops it needs numba (``qhybrid[fast]``); circuits with items on three or more wires
stay on the array passes.
"""

from __future__ import annotations

import numpy as np
import torch

from .loop_call import (
    as_arrays,
    available,  # noqa: F401  (the same condition: numba imports)
    batch_values,
    op_groups,
    rows_cotangent,
)
from .superops import rotation_form

#: Up to this many coefficients in a call (``4**n`` x rows) a CPU call of the density engine runs the loops
#: (measured on one core against the array passes: 4 qubits x 8 rows 2.2x faster under depolarising noise,
#: 3x under thermal relaxation, 5 x 8 1.3x; 4 x 32 0.9x, where the dense two-qubit ops cost most).
LOOP_COEFFICIENTS = 1 << 12


def covers(items) -> bool:
    """Whether the loops run these items: every one on one or two wires."""
    return all(len(item.wires) <= 2 for item in items)


class DensityLoopProgram:
    """The tables of :mod:`.density_loops` for a traced circuit's items."""

    def __init__(self, traced, items):
        n, n_inputs = traced.n_wires, traced.n_inputs
        self.n = n
        one = traced.n_inputs + traced.n_weights  # the sources' column of ones
        banks = {4: {"constants": [], "rotations": []}, 16: {"constants": [], "rotations": []}}
        placed = []  # per item: (width, per_row, index in its list, is a rotation)
        for item in items:
            bank = banks[4 ** len(item.wires)]
            if item.rotation is None or not item.param.factors:
                matrix = item.matrix if item.rotation is None else _constant_rotation(item)
                bank["constants"].append(matrix)
                placed.append((4 ** len(item.wires), False, len(bank["constants"]) - 1, False))
                continue
            per_row = any(f < n_inputs for f in item.param.factors)
            bank["rotations"].append((item, per_row, one))
            placed.append((4 ** len(item.wires), per_row, len(bank["rotations"]) - 1, True))
        self.banks = {d: _tables(d, b["constants"], b["rotations"]) for d, b in banks.items()}
        ops, members = [], []

        def slot(i: int) -> tuple[int, int, int]:
            d, per_row, j, rotation = placed[i]
            if rotation:  # the shared ones after the constants, or in the per-row bank
                return int(per_row), self.banks[d][3][j], 1
            return 0, j, 0

        def emit(kind: int, wires: tuple[int, ...], members_of: list[int]) -> None:
            strides = [4 ** (n - 1 - w) for w in wires] + [1]
            ops.append((kind, strides[0], strides[1], len(members), len(members_of)))
            members.extend(slot(i) for i in members_of)

        for wires, group in op_groups([item.wires for item in items]):
            emit(len(wires), wires, group)  # kind 1: a run on one wire, 2: a two-wire item
        self.ops = np.array(ops, dtype=np.int64).reshape(-1, 5)
        self.members = np.array(members, dtype=np.int64).reshape(-1, 3)
        self.per_row = any(p[1] for p in placed)
        digits = np.arange(4**n)
        zero = np.ones(4**n)
        for w in range(n):  # |0><0| = (I + Z) / 2: coefficients 1 on words of I and Z only
            letter = (digits // 4 ** (n - 1 - w)) % 4
            zero *= (letter == 0) | (letter == 3)
        self.start = zero
        self.words = np.array(
            [sum(3 * 4 ** (n - 1 - w) for w in word) for word in traced.observables], dtype=np.int64
        )


def _constant_rotation(item) -> np.ndarray:
    """A rotation with a fixed angle (no source), its error included."""
    k0, k1, k2 = rotation_form(item.rotation)
    t = item.scale * item.param.offset
    m = k0 + np.cos(t) * k1 + np.sin(t) * k2
    return m if item.error is None else item.error @ m


def _tables(d: int, constants: list, rotations: list) -> tuple:
    """Width ``d``'s shared bank template (constants, then room for the shared rotations), the rotation table
    of :func:`.loops.fill` with the per-row bank's size last, the number of constants, and each rotation's
    slot (in the shared bank after the constants, or in the per-row bank)."""
    shared = [r for r in rotations if not r[1]]
    template = np.concatenate([np.array(constants).reshape(-1, d, d), np.zeros((len(shared), d, d))])
    slots, n_shared, n_rows = [], 0, 0
    for _, per_row, _ in rotations:
        if per_row:
            slots.append(n_rows)
            n_rows += 1
        else:
            slots.append(len(constants) + n_shared)
            n_shared += 1
    forms = []
    for item, _, _ in rotations:
        e = item.error if item.error is not None else np.eye(d)
        forms.append([e @ k for k in rotation_form(item.rotation)])
    factors = [list(it.param.factors) + [one] * (2 - len(it.param.factors)) for it, _, one in rotations]
    table = (
        np.ones(len(rotations)),
        np.array([f[0] for f in forms]).reshape(-1, d, d),
        np.array([f[1] for f in forms]).reshape(-1, d, d),
        np.array([f[2] for f in forms]).reshape(-1, d, d),
        np.array([it.scale * it.param.scale for it, _, _ in rotations], dtype=np.float64),
        np.array([it.scale * it.param.offset for it, _, _ in rotations], dtype=np.float64),
        np.array([f[0] for f in factors], dtype=np.int64),
        np.array([f[1] for f in factors], dtype=np.int64),
        np.array([int(r[1]) for r in rotations], dtype=np.int64),
        np.array(slots, dtype=np.int64),
        n_rows,
    )
    return np.ascontiguousarray(template, dtype=np.float64), table, len(constants), slots


class DensityLoopCall(torch.autograd.Function):
    """``(program, inputs (B, n_inputs), weights) -> (B, n_observables)`` expectation values, on the CPU."""

    @staticmethod
    def forward(ctx, prog: DensityLoopProgram, inputs, weights):
        from . import density_loops

        x, w = as_arrays(inputs, weights)
        rows = x.shape[0] if prog.per_row else 1
        (t4, r4, _, _), (t16, r16, _, _) = prog.banks[4], prog.banks[16]
        values, saved = density_loops.call_forward(
            x, w, rows, prog.ops, prog.members, prog.start, prog.words, t4, r4, t16, r16
        )
        ctx.prog, ctx.arrays, ctx.weight_shape = prog, (x, w, rows, saved), weights.shape
        return batch_values(values, x.shape[0])

    @staticmethod
    def backward(ctx, grad):
        from . import density_loops

        prog, (x, w, rows, saved) = ctx.prog, ctx.arrays
        cot = rows_cotangent(grad, rows)
        tables = (prog.ops, prog.members, prog.words, prog.banks[4][1], prog.banks[16][1])
        grad_inputs, grad_weights = density_loops.call_backward(x, w, cot, *tables, saved)
        del ctx.arrays
        return None, torch.from_numpy(grad_inputs), torch.from_numpy(grad_weights).reshape(ctx.weight_shape)
