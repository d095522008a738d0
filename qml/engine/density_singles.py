"""One-qubit stages on distinct wires, applied to wide density states as a few tile passes
(:mod:`.density_tiles`), forward and backward, on a pool of threads.

The plan (:mod:`.density_plan`) leaves a layer of one-qubit items as one ``single`` stage per wire, back to
back. They commute, so :class:`Singles` takes such a run as one step: its wires are cut into *groups* of
neighbouring digits (at most :func:`max_digits` wide, so a tile of the group stays in the core's cache),
each group one pass over the coefficients. The step's matrices are the stages' ``(R, 4, 4)`` products
stacked in wire order, ``(K, R, 4, 4)``; its gradient comes back in the same shape.

Needs numba (``qhybrid[fast]``), like the small-register loops; without it the stages run one by one.
"""

from __future__ import annotations

import concurrent.futures
import functools

import numpy as np
import torch

from . import kernels
from .buffers import Buffers
from .loop_call import available

#: A tile's numbers (256 KiB): a group of ``k`` digits gets ``TILE // 4**k`` columns.
TILE = 1 << 15
#: The fewest columns of a tile per matrix: each digit's four values are runs at least this long, so
#: the products vectorise.
MIN_WIDTH = 32


def max_digits(rows: int) -> int:
    """The widest group for ``rows`` matrices a digit (1, or one per row): ``4**k * MIN_WIDTH * rows <= TILE``."""
    k = 1
    while 4 ** (k + 1) * MIN_WIDTH * rows <= TILE:
        k += 1
    return k


def split(wires: tuple[int, ...], widest: int) -> list[tuple[int, int]]:
    """Sorted ``wires`` as ``(first digit, digit count)`` groups at most ``widest`` digits long: wires closer
    than ``widest`` are cut into as few groups of even width as hold them."""
    clusters: list[list[int]] = []
    for w in wires:
        if clusters and w - clusters[-1][-1] < widest:
            clusters[-1].append(w)
        else:
            clusters.append([w])
    out = []
    for c in clusters:
        span = c[-1] - c[0] + 1
        parts = -(-span // widest)
        size = -(-span // parts)
        for i in range(parts):
            first = c[0] + i * size
            if any(first <= w < first + size for w in c):
                out.append((first, min(size, c[-1] + 1 - first)))
    return out


def single_runs(stages) -> list[list[int]]:
    """The runs of two or more back-to-back ``single`` stages on distinct wires, as stage indices (none
    without numba, which compiles the tile passes)."""
    if not available():
        return []
    runs: list[list[int]] = []
    current: list[int] = []
    for s, st in enumerate(stages):
        if st.kind == "single" and all(stages[t].wires != st.wires for t in current):
            current.append(s)
            continue
        if len(current) > 1:
            runs.append(current)
        current = [s] if st.kind == "single" else []
    if len(current) > 1:
        runs.append(current)
    return [sorted(run, key=lambda t: stages[t].wires) for run in runs]


def merge_runs(mats: list, runs: list[list[int]]) -> list:
    """The stages' matrices with each run's ``(R or 1, 4, 4)`` products stacked into one ``(K, R, 4, 4)``
    (in the run's wire order), at the run's first stage."""
    if not runs:
        return mats
    first = {min(run): run for run in runs}
    merged = {s for run in runs for s in run}
    out = []
    for s, m in enumerate(mats):
        if s in first:
            parts = [mats[t] for t in first[s]]
            rows = max(p.shape[0] for p in parts)
            out.append(torch.stack([p.expand(rows, 4, 4) for p in parts]))
        elif s not in merged:
            out.append(m)
    return out


@functools.cache
def _pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="qhybrid-tiles")


def run_parallel(fn, total: int, *args, partials=None) -> None:
    """``fn(*args, start, stop)`` over ``0 .. total`` cut into one range per torch thread (each range's
    ``partials[t]`` appended when given)."""
    threads = max(1, min(torch.get_num_threads(), total))
    cuts = [total * t // threads for t in range(threads + 1)]
    jobs = [
        (*args, cuts[t], cuts[t + 1]) + (() if partials is None else (partials[t],)) for t in range(threads)
    ]
    if threads == 1:
        fn(*jobs[0])
        return
    futures = [_pool(threads).submit(fn, *job) for job in jobs]
    for f in futures:
        f.result()


class Singles:
    """The one-qubit stages of ``wires`` (sorted, distinct) on ``n`` qubits as one step."""

    def __init__(self, wires: tuple[int, ...], n: int):
        self.wires, self.n = tuple(wires), n
        self._groups: dict[int, list] = {}

    def groups(self, rows: int) -> list[tuple[int, int, list[int | None]]]:
        """``(first digit, digit count, for each digit the index of its matrix or None)`` per group."""
        if rows not in self._groups:
            index = {w: i for i, w in enumerate(self.wires)}
            self._groups[rows] = [
                (p, k, [index.get(p + j) for j in range(k)]) for p, k in split(self.wires, max_digits(rows))
            ]
        return self._groups[rows]

    @staticmethod
    def _views(x: np.ndarray, p: int, k: int, rows: int):
        """``x`` as ``(4**p, 4**k, I)``, the tile's width in columns of one ``o`` and how many ``o`` side by
        side (``I`` whole columns each) make a tile: about ``TILE / 4**k`` columns, at least ``MIN_WIDTH``
        per matrix, a multiple of the batch."""
        x3 = x.reshape(4**p, 4**k, -1)
        wanted = max(MIN_WIDTH * rows, TILE // 4**k)
        inner, batch = x3.shape[2], x.shape[1]
        if inner >= wanted:
            width = inner
            while width > wanted and width % 2 == 0 and (width // 2) % batch == 0:
                width //= 2
            return x3, width, 1
        side = 1
        while side * inner < wanted and x3.shape[0] % (2 * side) == 0:
            side *= 2
        return x3, inner, side

    @staticmethod
    def _group(mats: np.ndarray, index) -> tuple[np.ndarray, np.ndarray]:
        """The group's ``(k, R, 16)`` matrices (zeros where a digit has none) and which digits have one."""
        k = len(index)
        out = np.zeros((k, mats.shape[1], 16))
        has = np.zeros(k, dtype=np.bool_)
        for j, i in enumerate(index):
            if i is not None:
                out[j], has[j] = mats[i].reshape(-1, 16), True
        return out, has

    @staticmethod
    def _run_group(source: np.ndarray, y: np.ndarray, mats: np.ndarray, group) -> None:
        """One group's tile pass: ``y`` = its matrices on ``source`` (``y`` may be ``source``)."""
        from . import density_tiles as tiles

        p, k, index = group
        m, has = Singles._group(mats, index)
        x3, width, side = Singles._views(source, p, k, mats.shape[1])
        run_parallel(
            tiles.apply_group, tiles.tiles(x3, width, side), x3, y.reshape(x3.shape), width, side, m, has
        )

    def apply(
        self, x: np.ndarray, mats: np.ndarray, transpose: bool = False, buffers: Buffers | None = None
    ) -> np.ndarray:
        """Every matrix (``(K, R, 4, 4)``) on ``x`` ``(4**n, B)``, or every transpose, into a new array (from
        ``buffers`` where given)."""
        if not isinstance(x, np.ndarray):
            return self._apply_each(x, mats.swapaxes(-1, -2) if transpose else mats)
        mats = np.asarray(mats)
        if transpose:
            mats = mats.swapaxes(-1, -2)
        x = np.ascontiguousarray(x)
        y = buffers.take(x.shape) if buffers is not None else np.empty(x.shape)
        source = x
        for group in self.groups(mats.shape[1]):
            self._run_group(source, y, mats, group)
            source = y
        return y

    def backward(self, x: np.ndarray, cot: np.ndarray, mats: np.ndarray, buffers: Buffers | None = None):
        """``(cotangent of the input (``cot``, changed in place), gradient (K, R, 4, 4))`` from the step's
        input ``x`` and the cotangent ``cot`` of its output (the groups' inputs in arrays from ``buffers``)."""
        if not isinstance(x, np.ndarray):
            return self._backward_each(x, cot, mats)
        from . import density_tiles as tiles

        mats = np.asarray(mats)
        rows = mats.shape[1]
        x, cot = np.ascontiguousarray(x), np.ascontiguousarray(cot)
        groups = self.groups(rows)
        inputs = [x]  # each group's input: the groups before it applied (one array per group)
        for group in groups[:-1]:
            y = buffers.take(x.shape) if buffers is not None else np.empty(x.shape)
            self._run_group(inputs[-1], y, mats, group)
            inputs.append(y)
        threads = max(1, torch.get_num_threads())
        grad = np.zeros((len(self.wires), rows, 16))
        for (p, k, index), source in zip(reversed(groups), reversed(inputs), strict=True):
            m, has = self._group(mats, index)
            x3, width, side = self._views(source, p, k, rows)
            partials = np.zeros((threads, k, rows, 16))
            total = tiles.tiles(x3, width, side)
            run_parallel(
                tiles.backward_group, total, x3, cot.reshape(x3.shape), width, side, m, has, partials=partials
            )
            if source is not x and buffers is not None:
                buffers.give(source)
            summed = partials.sum(0)
            for j, i in enumerate(index):
                if i is not None:
                    grad[i] = summed[j]
        return cot, grad.reshape(mats.shape)

    # tensors (on any torch device): one wire after the other, with the array passes' kernels

    def _bits(self, w: int) -> tuple[int, int]:
        return (2 * w, 2 * w + 1)

    def _apply_each(self, x, mats):
        for i, w in enumerate(self.wires):
            x = kernels.apply(x, mats[i], self._bits(w), 2 * self.n)
        return x

    def _backward_each(self, x, cot, mats):
        inputs = [x]
        for i, w in enumerate(self.wires[:-1]):
            inputs.append(kernels.apply(inputs[-1], mats[i], self._bits(w), 2 * self.n))
        grads = [None] * len(self.wires)
        for i in range(len(self.wires) - 1, -1, -1):
            bits, m = self._bits(self.wires[i]), mats[i]
            grads[i] = kernels.matrix_gradient(cot, inputs[i], bits, 2 * self.n, m.shape[0] > 1).reshape(
                m.shape
            )
            cot = kernels.apply(cot, m.swapaxes(-1, -2), bits, 2 * self.n)
        return cot, torch.stack(grads)
