"""Small registers on the CPU: a call as two compiled loops (:mod:`.loops`) instead of array operations.

:class:`LoopProgram` lays a traced circuit out once as the loops' tables: the gate matrices in the same
banks as the array engine (:class:`.program.Bank`), runs of one-qubit gates on a wire merged into one op.
:class:`LoopCall` is one call as an autograd function, each way one compiled call: forward, every rotation
matrix from the sources ``[inputs, weights, 1]`` into its bank slot, then the states; backward, the adjoint
pass, then each rotation's gradient back into inputs and weights.

It needs numba (``qhybrid[fast]``); :func:`available` says whether it is installed, and circuits it does
not cover (gates on three or more wires, observables other than ``<Z...Z>``) stay on the array engine.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import torch

from .gates import gate_kind, local_permutation
from .measure import _signs
from .program import Bank
from .trace import TracedCircuit

#: Up to this many amplitudes in a call (``2**n`` x rows) a CPU call runs the loops when numba is installed
#: (measured on one core against the array engine: 2.5x faster at 4 x 8, 1.2x at 8 x 16, 0.7x at 8 x 32).
LOOP_AMPLITUDES = 1 << 12


@functools.cache
def available() -> bool:
    """Whether numba, which compiles the loops, is installed and imports (one built for another numpy
    refuses to): asked once, when the first circuit is compiled."""
    if importlib.util.find_spec("numba") is None:
        return False
    try:
        from . import loops  # noqa: F401
    except ImportError:
        return False
    return True


def covers(traced: TracedCircuit) -> bool:
    """Whether the loops run ``traced``: gates on one or two wires, ``<Z...Z>`` observables."""
    return all(len(g.wires) <= 2 for g in traced.gates) and all(
        isinstance(o, tuple) for o in traced.observables
    )


def op_groups(wires_of: list[tuple[int, ...]]) -> list[tuple[tuple[int, ...], list[int]]]:
    """The loops' ops over a sequence of items on ``wires_of``, in an order that keeps every wire's items in
    order: ``(wires, items)`` for each run of one-wire items on a wire (it ends where a wider item touches
    the wire) and for each wider item alone."""
    out: list[tuple[tuple[int, ...], list[int]]] = []
    runs: dict[int, list[int]] = {}
    for i, wires in enumerate(wires_of):
        if len(wires) == 1:
            runs.setdefault(wires[0], []).append(i)
            continue
        out.extend(((w,), runs.pop(w)) for w in wires if w in runs)
        out.append((tuple(wires), [i]))
    out.extend(((w,), run) for w, run in runs.items())
    return out


def as_arrays(inputs: torch.Tensor, weights: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """A call's inputs and flat weights as contiguous float64 numpy arrays, for the compiled loops."""
    x = inputs.detach().to(torch.float64).contiguous().numpy()
    return x, weights.detach().to(torch.float64).reshape(-1).contiguous().numpy()


def batch_values(values: np.ndarray, batch: int) -> torch.Tensor:
    """The ``(rows, O)`` values as a ``(batch, O)`` tensor (one row of a row-free circuit broadcast)."""
    if values.shape[0] != batch:
        values = np.broadcast_to(values, (batch, values.shape[1]))
    return torch.from_numpy(np.ascontiguousarray(values))


def rows_cotangent(grad: torch.Tensor, rows: int) -> np.ndarray:
    """The values' ``(batch, O)`` cotangent for ``rows`` simulated rows (summed over the batch for one)."""
    grad = grad.detach().to(torch.float64).numpy()
    return np.ascontiguousarray(grad if rows == grad.shape[0] else grad.sum(0)[None])


class LoopProgram:
    """The tables of :mod:`.loops` for one traced circuit (see there for their layout)."""

    def __init__(self, traced: TracedCircuit):
        self.n = traced.n_wires
        bank = Bank(traced, list(range(len(traced.gates))))
        ops, members, perms = [], [], []

        def emit(kind: int, wires: tuple[int, ...], gates: list[int]) -> None:
            bits = [self.n - 1 - w for w in wires] + [0]
            ops.append((kind, bits[0], bits[1], len(members), len(gates)))
            for g in gates:
                _, per_row, slot = bank.slot[g]
                param = traced.gates[g].param
                members.append((int(per_row), slot, int(param is not None and bool(param.factors))))

        for wires, group in op_groups([g.wires for g in traced.gates]):
            if len(wires) == 1:
                emit(1, wires, group)
            elif gate_kind(traced.gates[group[0]].op) == "perm":
                bits = [self.n - 1 - w for w in wires]
                ops.append((3, bits[0], bits[1], len(perms), 1))
                perms.append(local_permutation(traced.gates[group[0]].op))
            else:
                emit(2, wires, group)
        self.ops = np.array(ops, dtype=np.int64).reshape(-1, 5)
        self.members = np.array(members, dtype=np.int64).reshape(-1, 3)
        self.perms = np.array(perms, dtype=np.int64).reshape(-1, 4)
        self.signs = np.stack([_signs(word, self.n) for word in traced.observables]).reshape(-1, 2**self.n)
        self.per_row = any(per_row for _, per_row, _ in bank.slot.values())
        self.banks = {d: _tables(bank, d) for d in (2, 4)}


def _tables(bank: Bank, d: int) -> tuple:
    """Width ``d``'s shared bank with its constants in place, and its rotation table for :func:`.loops.fill`
    (``freq, a, c, s, scale, offset, f0, f1, per_row, slot``, then the size of the per-row bank)."""
    constants = bank.constants.get(d, np.zeros((0, d, d)))
    shared, rows = bank.rotations.get((d, False)), bank.rotations.get((d, True))
    n_shared = len(shared.arrays["freq"]) if shared else 0
    template = np.concatenate([constants, np.zeros((n_shared, d, d))]).astype(np.complex128)
    groups = [(r.arrays, row) for r, row in ((shared, False), (rows, True)) if r is not None]
    columns = []
    for key, dtype in _COLUMNS:
        parts = [np.asarray(a[key], dtype=dtype) for a, _ in groups]
        columns.append(np.concatenate(parts) if parts else np.zeros((0, d, d) if key in "acs" else 0, dtype))
    per_row = [np.full(len(a["freq"]), row, dtype=np.int64) for a, row in groups]
    slots = [np.arange(len(a["freq"])) + (0 if row else len(constants)) for a, row in groups]
    for parts in (per_row, slots):
        columns.append(np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64))
    n_rows = len(rows.arrays["freq"]) if rows else 0
    return template, (*columns, n_rows)


_COLUMNS = [
    ("freq", np.float64), ("a", np.complex128), ("c", np.complex128), ("s", np.complex128),
    ("scale", np.float64), ("offset", np.float64), ("f0", np.int64), ("f1", np.int64),
]  # fmt: skip


class LoopCall(torch.autograd.Function):
    """``(program, inputs (B, n_inputs), weights) -> (B, n_observables)`` expectation values, on the CPU."""

    @staticmethod
    def forward(ctx, prog: LoopProgram, inputs, weights):
        from . import loops

        x, w = as_arrays(inputs, weights)
        rows = x.shape[0] if prog.per_row else 1
        (t2, r2), (t4, r4) = prog.banks[2], prog.banks[4]
        psi, values, saved = loops.call_forward(
            x, w, rows, prog.ops, prog.members, prog.perms, prog.signs, t2, r2, t4, r4
        )
        ctx.prog, ctx.arrays, ctx.weight_shape = prog, (x, w, psi, saved), weights.shape
        return batch_values(values, x.shape[0])

    @staticmethod
    def backward(ctx, grad):
        from . import loops

        prog, (x, w, psi, saved) = ctx.prog, ctx.arrays
        cot = rows_cotangent(grad, psi.shape[0])
        tables = (prog.ops, prog.members, prog.perms, prog.signs, prog.banks[2][1], prog.banks[4][1])
        grad_inputs, grad_weights = loops.call_backward(x, w, psi, cot, *tables, saved)
        del ctx.arrays
        return None, torch.from_numpy(grad_inputs), torch.from_numpy(grad_weights).reshape(ctx.weight_shape)
