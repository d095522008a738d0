"""Wide density states' one-qubit passes as compiled loops over cache-sized tiles (numba, cached on disk).

A layer of one-qubit items (a rotation and its error on every wire) is one ``4 x 4`` transfer matrix per
wire. Applied one wire at a time, each is a pass over the whole ``(4**n, B)`` coefficient array: at 12
qubits x 8 rows, 12 passes over 1 GiB, and numpy's batched ``4 x 4`` products ran at 1.6 GFLOP/s there (0.34 s
a wire). Matrices on different wires commute, so here the wires of a *group* (a few neighbouring digits of
the coefficient index) are applied together: the array is viewed as ``(O, 4**k, I)`` (the digits before
the group, the group's, the digits after it and the row), a tile of ``4**k`` by ``W`` columns is copied into
the core's cache, every matrix of the group is applied to it there, and it is written back: one pass over
memory per group whatever its width. A tile's columns are ``W`` neighbouring columns of one ``o``, or, when
``I`` is shorter than ``W``, all ``I`` columns of ``W / I`` neighbouring ``o`` side by side, so every digit's
four values are runs of at least ``W`` contiguous numbers and the products vectorise (one digit, 4 x 4, on
runs of 8 numbers: 4 GFMA/s on one core here; of 64: 14-25).

The backward pass of a group reads the tile of its input and of its output's cotangent, runs the group
forward again inside the tile (keeping the tile before each matrix), then walks back: each matrix's
gradient ``sum cot x^T`` over the tile and the cotangent through the transpose in one loop; the cotangent
tile is written back in place.

Matrices come as ``(k, R, 16)``: entry ``(a, b)`` of digit ``j``'s matrix for row ``r`` at ``[j, r, 4 a + b]``,
``R`` being 1 (every row alike) or the row count ``B``. A tile holds whole rows of the batch, and with one
matrix per row it is transposed as it is loaded so that each row's numbers are contiguous (``(R, 4**k,
W / R)``): every run then has one matrix, as when the rows share it.

Work is split into contiguous ranges of tiles (``start``, ``stop``), one per thread (:mod:`.density_singles`
runs them on a thread pool: every function releases the GIL).
"""

from __future__ import annotations

import numba as nb
import numpy as np

_jit = nb.njit(cache=True, nogil=True, fastmath=True)


@_jit
def _four(r0, r1, r2, r3, m):
    """``M`` on four runs in place (``m`` (16,): entry ``(a, b)`` at ``4 a + b``)."""
    m00, m01, m02, m03 = m[0], m[1], m[2], m[3]
    m10, m11, m12, m13 = m[4], m[5], m[6], m[7]
    m20, m21, m22, m23 = m[8], m[9], m[10], m[11]
    m30, m31, m32, m33 = m[12], m[13], m[14], m[15]
    for i in range(r0.shape[0]):
        a0, a1, a2, a3 = r0[i], r1[i], r2[i], r3[i]
        r0[i] = m00 * a0 + m01 * a1 + m02 * a2 + m03 * a3
        r1[i] = m10 * a0 + m11 * a1 + m12 * a2 + m13 * a3
        r2[i] = m20 * a0 + m21 * a1 + m22 * a2 + m23 * a3
        r3[i] = m30 * a0 + m31 * a1 + m32 * a2 + m33 * a3


@_jit
def _digit(flat, n, m):
    """Matrix ``m`` (16,) on the digit whose four values are ``n`` apart in the flattened tile, in place."""
    for base in range(0, flat.shape[0], 4 * n):
        r0, r1 = flat[base : base + n], flat[base + n : base + 2 * n]
        r2, r3 = flat[base + 2 * n : base + 3 * n], flat[base + 3 * n : base + 4 * n]
        _four(r0, r1, r2, r3, m)


@_jit
def _back(c0, c1, c2, c3, x0, x1, x2, x3, m, g):
    """One digit's backward on four runs: ``g[4 a + b] += sum c_a x_b``, then the
    cotangent runs become ``M^T c`` in place."""
    m00, m01, m02, m03 = m[0], m[1], m[2], m[3]
    m10, m11, m12, m13 = m[4], m[5], m[6], m[7]
    m20, m21, m22, m23 = m[8], m[9], m[10], m[11]
    m30, m31, m32, m33 = m[12], m[13], m[14], m[15]
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = 0.0
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = 0.0
    for i in range(c0.shape[0]):
        a0, a1, a2, a3 = c0[i], c1[i], c2[i], c3[i]
        b0, b1, b2, b3 = x0[i], x1[i], x2[i], x3[i]
        s00 += a0 * b0
        s01 += a0 * b1
        s02 += a0 * b2
        s03 += a0 * b3
        s10 += a1 * b0
        s11 += a1 * b1
        s12 += a1 * b2
        s13 += a1 * b3
        s20 += a2 * b0
        s21 += a2 * b1
        s22 += a2 * b2
        s23 += a2 * b3
        s30 += a3 * b0
        s31 += a3 * b1
        s32 += a3 * b2
        s33 += a3 * b3
        c0[i] = m00 * a0 + m10 * a1 + m20 * a2 + m30 * a3
        c1[i] = m01 * a0 + m11 * a1 + m21 * a2 + m31 * a3
        c2[i] = m02 * a0 + m12 * a1 + m22 * a2 + m32 * a3
        c3[i] = m03 * a0 + m13 * a1 + m23 * a2 + m33 * a3
    g[0] += s00
    g[1] += s01
    g[2] += s02
    g[3] += s03
    g[4] += s10
    g[5] += s11
    g[6] += s12
    g[7] += s13
    g[8] += s20
    g[9] += s21
    g[10] += s22
    g[11] += s23
    g[12] += s30
    g[13] += s31
    g[14] += s32
    g[15] += s33


@_jit
def _digit_back(cot, x, n, m, g):
    """One digit's backward over the flattened tiles ``cot`` (in place) and ``x`` (its input)."""
    for base in range(0, cot.shape[0], 4 * n):
        c0, c1 = cot[base : base + n], cot[base + n : base + 2 * n]
        c2, c3 = cot[base + 2 * n : base + 3 * n], cot[base + 3 * n : base + 4 * n]
        x0, x1 = x[base : base + n], x[base + n : base + 2 * n]
        x2, x3 = x[base + 2 * n : base + 3 * n], x[base + 3 * n : base + 4 * n]
        _back(c0, c1, c2, c3, x0, x1, x2, x3, m, g)


@_jit
def _block(x3, task, j, width, per_o, side):
    """Part ``j`` of tile ``task`` in ``x3`` ``(O, 4**k, I)``: ``width`` columns of one ``o``, or (``side`` > 1)
    the whole ``o`` number ``task * side + j``."""
    o, c = (task // per_o, (task % per_o) * width) if side == 1 else (task * side + j, 0)
    return x3[o, :, c : c + width]


@_jit
def _load(x3, tile, task, width, per_o, side):
    """Copy tile ``task`` of ``x3`` into ``tile`` ``(R, 4**k, side * width / R)``: row ``r``'s columns (every
    ``R``-th) in ``tile[r]``."""
    rows = tile.shape[0]
    for j in range(side):
        block, at = _block(x3, task, j, width, per_o, side), j * (width // rows)
        if rows == 1:
            tile[0, :, at : at + width] = block
        else:
            for t in range(block.shape[0]):
                for q in range(width // rows):
                    for r in range(rows):
                        tile[r, t, at + q] = block[t, q * rows + r]


@_jit
def _store(x3, tile, task, width, per_o, side):
    """The inverse of :func:`_load`: ``tile`` written back into tile ``task`` of ``x3``."""
    rows = tile.shape[0]
    for j in range(side):
        block, at = _block(x3, task, j, width, per_o, side), j * (width // rows)
        if rows == 1:
            block[:, :] = tile[0, :, at : at + width]
        else:
            for t in range(block.shape[0]):
                for q in range(width // rows):
                    for r in range(rows):
                        block[t, q * rows + r] = tile[r, t, at + q]


@_jit
def tiles(x3, width, side):
    """How many tiles cover ``x3``: ``width`` columns of one ``o`` each, or ``side`` whole ``o`` each."""
    return x3.shape[0] * (x3.shape[2] // width) if side == 1 else x3.shape[0] // side


@_jit
def apply_group(x3, y3, width, side, mats, has, start, stop):
    """Tiles ``start .. stop - 1`` of ``y3 = group(x3)`` (``(O, 4**k, I)`` views; ``y3`` may be ``x3``);
    ``mats`` ``(k, R, 16)`` per digit of the group (most significant first) and row, used where ``has``."""
    k, d, rows = has.shape[0], x3.shape[1], mats.shape[1]
    per_o = x3.shape[2] // width
    cols = side * width // rows
    tile = np.empty((rows, d, cols))
    for task in range(start, stop):
        _load(x3, tile, task, width, per_o, side)
        for r in range(rows):
            flat = tile[r].reshape(d * cols)
            for j in range(k):
                if has[j]:
                    _digit(flat, 4 ** (k - 1 - j) * cols, mats[j, r])
        _store(y3, tile, task, width, per_o, side)


@_jit
def backward_group(x3, c3, width, side, mats, has, start, stop, grads):
    """Tiles ``start .. stop - 1`` of the group's backward pass: ``c3``, the cotangent of its output, becomes
    the cotangent of its input ``x3`` in place, and each digit's gradient is added to ``grads`` ``(k, R, 16)``."""
    k, d, rows = has.shape[0], x3.shape[1], mats.shape[1]
    per_o = x3.shape[2] // width
    cols = side * width // rows
    size = d * cols
    kept = np.empty((k, size))
    tile = np.empty((rows, d, cols))
    cot = np.empty((rows, d, cols))
    for task in range(start, stop):
        _load(x3, tile, task, width, per_o, side)
        _load(c3, cot, task, width, per_o, side)
        for r in range(rows):
            flat, cflat = tile[r].reshape(size), cot[r].reshape(size)
            for j in range(k):
                if has[j]:
                    kept[j, :] = flat
                    _digit(flat, 4 ** (k - 1 - j) * cols, mats[j, r])
            for j in range(k - 1, -1, -1):
                if has[j]:
                    _digit_back(cflat, kept[j], 4 ** (k - 1 - j) * cols, mats[j, r], grads[j, r])
        _store(c3, cot, task, width, per_o, side)


@_jit
def gather_rows(x, y, index, factor, start, stop):
    """Rows ``start .. stop - 1`` of ``y[i] = factor[i] * x[index[i]]`` (``(N, B)`` arrays)."""
    for i in range(start, stop):
        src, f = index[i], factor[i]
        for b in range(x.shape[1]):
            y[i, b] = f * x[src, b]


@_jit
def compose_gather(shifts, counts, local_index, local_factor, index, factor, start, stop):
    """Entries ``start .. stop - 1`` of a run of monomial members composed into one gather
    (:class:`.density_gather.Gather`): for each output index, the members from the last to the first, each
    replacing its digits by its table's source and multiplying in its factor. Member ``m`` acts on
    ``counts[m]`` digits at bit ``shifts[m, j]`` (its matrix's first wire most significant), with tables
    ``local_index[m]``, ``local_factor[m]`` over its ``4**counts[m]`` local indices."""
    for i in range(start, stop):
        at, f = i, 1.0
        for m in range(counts.shape[0] - 1, -1, -1):
            k = counts[m]
            local = 0
            for j in range(k):
                local = local * 4 + ((at >> shifts[m, j]) & 3)
            f *= local_factor[m, local]
            source = local_index[m, local]
            for j in range(k):
                shift = shifts[m, j]
                at = (at & ~(3 << shift)) | (((source >> (2 * (k - 1 - j))) & 3) << shift)
        index[i], factor[i] = at, f


@_jit
def invert_gather(index, factor, inverse, inverse_factor):
    """The transpose of a gather: ``inverse[index[i]] = i`` and its factors."""
    for i in range(index.shape[0]):
        inverse[index[i]] = i
    for i in range(index.shape[0]):
        inverse_factor[i] = factor[inverse[i]]
