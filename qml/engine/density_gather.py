"""A run of monomial transfer matrices (Clifford gates under Pauli noise) as one gather over the coefficients.

A monomial matrix maps every Pauli word to one word times a factor: ``y[i] = f[i] * x[s[i]]``. Two of them
compose into another (``s = s1[s2]``, ``f = f2 * f1[s2]``), so a CNOT ring with its depolarising errors is one
index table over the ``4**n`` coefficients and one factor per coefficient: a single pass that moves whole rows
of the batch. Its transpose (the backward pass) is the inverse table with the factors moved along.

Past :data:`MAX_TABLE` coefficients (13 qubits) the tables would outweigh the state, so each member is applied
on its own qubits' coefficients: one pass per member, and about 9x slower for the ring (a CNOT ring on 10
qubits x 8 rows: 265 against 29 ms).
"""

from __future__ import annotations

import numpy as np

from . import arrays, kernels
from .arrays import NUMPY, place
from .buffers import Buffers
from .density_singles import run_parallel
from .loop_call import available as compiled

#: The widest register (``4**n`` coefficients) whose gathers compose into one table (int32 indices and
#: float64 factors, 24 bytes a coefficient with the inverse: 400 MB at 12 qubits, beside 1 GiB per 8-row state).
MAX_TABLE = 4**12


def _digits_of(index: np.ndarray, wires, n: int) -> np.ndarray:
    """The local index (base 4, first wire most significant) of ``wires`` in each full index."""
    local = np.zeros_like(index)
    for w in wires:
        local = local * 4 + (index // 4 ** (n - 1 - w)) % 4
    return local


def _with_digits(index: np.ndarray, wires, n: int, local: np.ndarray) -> np.ndarray:
    """``index`` with the digits of ``wires`` replaced by ``local``'s."""
    out = index.copy()
    for pos, w in enumerate(wires):
        place_value = 4 ** (n - 1 - w)
        digit = (local // 4 ** (len(wires) - 1 - pos)) % 4
        out += (digit - (index // place_value) % 4) * place_value
    return out


def local_table(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(s, f)`` of a monomial matrix: ``(m x)[i] = f[i] x[s[i]]``."""
    s = np.argmax(np.abs(m) > 1e-14, axis=1)
    return s, m[np.arange(len(m)), s]


def _tables(members, n: int) -> tuple[np.ndarray, ...]:
    """``(index, factor, inverse, inverse factor)`` of the members composed, member after member."""
    index = np.arange(4**n)
    s, f = index, np.ones(4**n)
    for wires, m in members:
        ls, lf = local_table(m)
        local = _digits_of(index, wires, n)
        s2 = _with_digits(index, wires, n, ls[local])
        s, f = s[s2], lf[local] * f[s2]
    inverse = np.argsort(s)
    return s.astype(np.int32), f, inverse.astype(np.int32), f[inverse]


def _compiled_tables(members, n: int) -> tuple[np.ndarray, ...]:
    """The same in one compiled pass (index by index through every member; at 12 qubits a ring of 12 CNOTs
    took 10 s as whole-array steps)."""
    from . import density_tiles

    widest = max(len(wires) for wires, _ in members)
    shifts = np.zeros((len(members), widest), dtype=np.int64)
    counts = np.array([len(wires) for wires, _ in members], dtype=np.int64)
    local_index = np.zeros((len(members), 4**widest), dtype=np.int64)
    local_factor = np.zeros((len(members), 4**widest))
    for m, (wires, matrix) in enumerate(members):
        shifts[m, : len(wires)] = [2 * (n - 1 - w) for w in wires]
        ls, lf = local_table(matrix)
        local_index[m, : len(ls)], local_factor[m, : len(lf)] = ls, lf
    index, factor = np.empty(4**n, dtype=np.int32), np.empty(4**n)
    run_parallel(density_tiles.compose_gather, 4**n, shifts, counts, local_index, local_factor, index, factor)
    inverse, inverse_factor = np.empty_like(index), np.empty_like(factor)
    density_tiles.invert_gather(index, factor, inverse, inverse_factor)
    return index, factor, inverse, inverse_factor


class Gather:
    """Monomial members ``(wires in the matrix's order, matrix)``, in time order, on ``n`` qubits."""

    def __init__(self, members, n: int):
        self.n = n
        self.full = 4**n <= MAX_TABLE
        self._placed: dict = {}
        if self.full:
            self.tables = _compiled_tables(members, n) if compiled() else _tables(members, n)
        else:
            self.members = []
            for wires, m in members:
                order = sorted(wires)
                perm = [wires.index(w) for w in order]  # the matrix on the sorted wires' coefficients
                m = _permute_qubits(m, perm)
                ls, lf = local_table(m)
                inv = np.argsort(ls)
                bits = tuple(b for w in order for b in (2 * w, 2 * w + 1))
                self.members.append((bits, (ls, lf, inv, lf[inv])))

    def placed(self, at):
        if at not in self._placed:
            if self.full:
                self._placed[at] = tuple(place(t, at) for t in self.tables)
            else:
                self._placed[at] = [
                    (bits, tuple(place(t, at) for t in tables)) for bits, tables in self.members
                ]
        return self._placed[at]

    def apply(self, x, at, transpose: bool = False, buffers: Buffers | None = None):
        """The gather on ``(4**n, B)`` coefficients ``x``; its transpose with ``transpose`` (the compiled pass
        writes into an array from ``buffers`` where given)."""
        tables = self.placed(at)
        if self.full:
            s, f, inv, finv = tables
            index, factor = (inv, finv) if transpose else (s, f)
            if at == NUMPY and compiled():
                # one compiled pass on the torch threads (numpy's take, then the factor: two, on one core)
                from . import density_tiles

                y = buffers.take(x.shape) if buffers is not None else np.empty(x.shape)
                run_parallel(density_tiles.gather_rows, x.shape[0], x, y, index, factor)
                return y
            y = arrays.of(x).take(x, index)  # a row gather (numpy's take: 4x its fancy indexing here)
            y *= factor[:, None]
            return y
        members = reversed(tables) if transpose else tables
        for bits, (s, f, inv, finv) in members:
            loc = kernels.local_view(x, bits, 2 * self.n)
            idx, fac = (inv, finv) if transpose else (s, f)
            x = kernels.from_local(loc[:, idx] * fac[None, :, None], bits, 2 * self.n, x.shape[-1])
        return x


def _permute_qubits(m: np.ndarray, perm: list[int]) -> np.ndarray:
    """``m`` on qubits reordered: new qubit ``j`` is old qubit ``perm[j]`` (4 coefficients per qubit)."""
    k = len(perm)
    t = m.reshape([4] * 2 * k)
    return t.transpose(perm + [k + p for p in perm]).reshape(m.shape)
