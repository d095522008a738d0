"""The arithmetic of the torch engine: a matrix on some wires of a batch of states, and its gradient.

States are ``(2**n, R)`` complex tensors, basis index first and the batch last (``R`` rows: the batch, 1 when
every row is the same, or the state and its cotangent side by side in the reversed pass). Wire 0 is the most
significant bit of the basis index, as in PennyLane. With the batch as the fastest axis a permutation of the
basis moves whole rows of ``R`` numbers, and a matrix on contiguous wires is one matrix product over a view
``(2**lo, d, rest * R)`` with no copy. Other wire sets are moved together first.

A matrix is ``(d, d)`` for every row or ``(Q, d, d)`` per row, where the ``R`` columns are ``P`` groups of
``Q`` rows (the per-row matrix repeats over the groups).
"""

from __future__ import annotations

import torch

from . import arrays


def contiguous(wires: tuple[int, ...]) -> bool:
    return all(b == a + 1 for a, b in zip(wires, wires[1:], strict=False))


def local_view(x: torch.Tensor, wires: tuple[int, ...], n: int) -> torch.Tensor:
    """``x`` as ``(A, d, C)`` with the ``d = 2**len(wires)`` basis of ``wires`` on axis 1 (C holds R)."""
    r, k = x.shape[-1], len(wires)
    if contiguous(wires):
        return x.reshape(2 ** wires[0], 2**k, -1)
    axes = arrays.of(x).moveaxis(x.reshape(*([2] * n), r), list(wires), list(range(k)))
    return axes.reshape(1, 2**k, -1)


def from_local(y: torch.Tensor, wires: tuple[int, ...], n: int, r: int) -> torch.Tensor:
    """The inverse of :func:`local_view`: back to ``(2**n, R)``."""
    if contiguous(wires):
        return y.reshape(2**n, r)
    k = len(wires)
    axes = arrays.of(y).moveaxis(y.reshape(*([2] * n), r), list(range(k)), list(wires))
    return axes.reshape(2**n, r)


def _per_row(u: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
    # y[a, i, c, q] = sum_j u[q, i, j] loc[a, j, c, q]: rows to the front for one batched product
    q = u.shape[0]
    a, d = loc.shape[0], loc.shape[1]
    xp = arrays.of(loc)
    x = xp.permute(loc.reshape(a, d, -1, q), (3, 1, 0, 2)).reshape(q, d, -1)
    y = (u @ x).reshape(q, d, a, -1)
    return xp.permute(y, (2, 1, 3, 0)).reshape(a, d, -1)


def apply(x: torch.Tensor, u: torch.Tensor, wires: tuple[int, ...], n: int) -> torch.Tensor:
    """``u`` on ``wires`` of every state in ``x`` (a new tensor)."""
    loc = local_view(x, wires, n)
    if u.ndim == 3 and u.shape[0] > 1:
        out = _per_row(u, loc)
    else:
        u = u.reshape(u.shape[-2:])
        if loc.shape[0] == 1:
            out = u @ loc[0]
        elif loc.shape[2] < _NARROW:
            out = _narrow(loc, u)
        else:
            out = arrays.of(loc).matmul_each(u, loc)
    return from_local(out, wires, n, x.shape[-1])


#: Below this many columns per block product, stacking the rows into one product is faster (measured at
#: 20 qubits x 8 rows: 70 ms against 125 ms for the batched product).
_NARROW = 16
#: The copies that products and gradients need are made this many amplitudes at a time (16 MiB), so a wide
#: state never has more than two whole copies alive.
_CHUNK = 1 << 20


def _chunks(a: int, per_row: int):
    step = max(1, _CHUNK // per_row)
    return [slice(lo, lo + step) for lo in range(0, a, step)]


def _narrow(loc, u):
    """``u @ loc`` for ``(A, d, C)`` with few columns ``C``: rows stacked into one product per chunk."""
    a, d, c = loc.shape
    out = arrays.of(loc).empty_like(loc)
    for part in _chunks(a, d * c):
        block = loc[part]
        out[part] = (block.swapaxes(1, 2).reshape(-1, d) @ u.T).reshape(block.shape[0], c, d).swapaxes(1, 2)
    return out


def matrix_gradient(
    cot: torch.Tensor,
    state: torch.Tensor,
    wires: tuple[int, ...],
    n: int,
    per_row: bool,
    rows: int | None = None,
) -> torch.Tensor:
    """Gradient of ``u`` for ``y = u x`` on ``wires`` from the ``(2**n, R)`` cotangent of ``y`` and the state
    ``x``: ``sum cot[i] conj(x[j])`` over everything but the gate's own indices (and the row, if
    ``per_row``: the last ``rows`` columns of each group, all ``R`` by default)."""
    q = rows or cot.shape[-1]
    c, s = local_view(cot, wires, n), local_view(state, wires, n).conj()
    a, d = c.shape[0], c.shape[1]
    if per_row:
        return arrays.of(c).einsum("aicq,ajcq->qij", c.reshape(a, d, -1, q), s.reshape(a, d, -1, q))
    if a == 1:
        return c[0] @ s[0].T
    if a * d * d <= cot.shape[0] * cot.shape[1] // 4:
        return (c @ s.swapaxes(1, 2)).sum(0)
    total = 0
    for part in _chunks(a, d * c.shape[2]):
        total = total + c[part].swapaxes(0, 1).reshape(d, -1) @ s[part].swapaxes(0, 1).reshape(d, -1).T
    return total


def permute(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``y[i] = x[index[i]]``: a permutation of the basis (whole rows of the batch move)."""
    return arrays.of(x).take(x, index)
