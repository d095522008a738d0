"""The state-sized part of a call: product state, stages, expectation values, and the way back.

Forward: the Kronecker product of the wires' prefix vectors, every stage in one pass, the probabilities, and
the ``<Z...Z>`` values. Backward, written out (no state-sized tensor goes through autograd): the
values' cotangent becomes the state's (``2 D psi``, ``D`` the cotangent-weighted sign vector), the stages
are undone one by one on the output state and on its cotangent (O(1) states per row), reading each block
matrix's gradient off the pair (for ``y = U x``: ``dU = cot_y x^H``, ``cot_x = U^H cot_y``) and each
diagonal stage's off their product; last the cotangent of the product state is contracted wire by wire
with the other wires' vectors (the partial products kept from the forward pass).
"""

from __future__ import annotations

import torch

from . import arrays, kernels, measure, pauli


def _kron(vectors) -> list:
    """``(Q, n, 2)`` -> the partial products ``v_0``, ``v_0 (x) v_1``, ... as ``(2**k, Q)``; the last is the
    product state."""
    q = vectors.shape[0]
    out = [vectors[:, 0].T]
    for w in range(1, vectors.shape[1]):
        out.append((out[-1][:, None, :] * vectors[:, w].T[None, :, :]).reshape(-1, q))
    return out


def _kron_backward(cot: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Gradient of the ``(Q, n, 2)`` vectors from the cotangent of their product state."""
    n, q = vectors.shape[1], cot.shape[1]
    if n > 3 and cot.shape[0] * q >= SPLIT_AMPLITUDES:
        return _split_kron_backward(cot, vectors)
    partial = _kron(vectors[:, :-1]) if n > 1 else []  # products of the first wires; not the whole state
    grads = [None] * n
    conj = vectors.conj()
    rest = cot  # the cotangent contracted with conj of the vectors right of the current wire
    for w in range(n - 1, 0, -1):
        pair = rest.reshape(-1, 2, q)
        grads[w] = (pair * partial[w - 1].conj()[:, None, :]).sum(0).T
        rest = pair[:, 0] * conj[:, w, 0] + pair[:, 1] * conj[:, w, 1]
    grads[0] = rest.T
    return arrays.of(cot).stack(grads, 1)


#: From this many amplitudes (``2**n`` x rows) the product state's gradient splits the wires in halves.
SPLIT_AMPLITUDES = 1 << 16
#: Bytes of the temporaries of one chunk of the split contraction (kept within the core's cache).
SPLIT_CHUNK_BYTES = 1 << 20


def _split_kron_backward(cot: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """:func:`_kron_backward` for wide states in one read of the cotangent: for ``psi = l (x) r`` (the two
    halves' products) the cotangent contracted with ``conj(r)`` is that of ``l`` and with ``conj(l)`` that of
    ``r``; both are made chunk by chunk of ``l``'s index, so no state-sized temporary is written, and each
    half's wires then come from its own small cotangent."""
    n, q = vectors.shape[1], cot.shape[1]
    h = n // 2
    left, right = _kron(vectors[:, :h])[-1], _kron(vectors[:, h:])[-1]  # (2**h, Q'), (2**(n-h), Q')
    grid = cot.reshape(left.shape[0], right.shape[0], q)
    xp = arrays.of(cot)
    cot_left = xp.empty_like(cot[: left.shape[0]])
    cot_right = xp.zeros_like(cot[: right.shape[0]])
    right_conj, left_conj = right.conj(), left.conj()
    step = max(1, SPLIT_CHUNK_BYTES // (right.shape[0] * q * 16))
    for lo in range(0, left.shape[0], step):
        block = grid[lo : lo + step]
        cot_left[lo : lo + step] = (block * right_conj[None]).sum(1)
        cot_right += (block * left_conj[lo : lo + step, None, :]).sum(0)
    grads_left = _kron_backward(cot_left, vectors[:, :h])
    grads_right = _kron_backward(cot_right, vectors[:, h:])
    return xp.cat([grads_left, grads_right], 1)


#: The forward pass keeps every stage's input for the backward pass while they take at most this many bytes
#: in all (one pass less per stage: 12 qubits x 32 rows take 6 MiB, 16 x 32 128 MiB); past it (20 x 8 would
#: take 512 MiB) the stages are undone instead, O(1) states per row at any depth.
KEEP_BYTES = 256 << 20


def _product_state(vectors):
    """The last of :func:`_kron`'s products: the two halves' products, then one outer product (a single
    state-sized allocation, where growing it wire by wire left freed blocks of every size behind)."""
    q, half = vectors.shape[0], max(1, vectors.shape[1] // 2)
    left, right = _kron(vectors[:, :half])[-1], _kron(vectors[:, half:])[-1] if vectors.shape[1] > 1 else None
    return left if right is None else (left[:, None, :] * right[None, :, :]).reshape(-1, q)


def run(stages, mats, vectors, n, keep: bool):
    """The product state through every stage; the stages' inputs too where ``keep``. The state of one
    stage is freed as soon as the next exists (unless kept)."""
    it = iter(mats)
    inputs = []
    x = _product_state(vectors)
    for stage in stages:
        if stage[0] == "perm":
            x = kernels.permute(x, stage[1])
            continue
        if keep:
            inputs.append(x)
        x = x * next(it) if stage[0] == "diag" else kernels.apply(x, next(it), stage[1], n)
    return x, inputs


def _undo(stages, mats, pair: dict, n, inputs):
    """Back through the stages: the cotangent of the first state, and each stage input's gradient. Inputs
    the forward pass kept are read, the others recomputed by undoing the stage on the state. ``pair``
    holds the output state and its cotangent, taken out of it so that each is freed once undone."""
    state, cot = pair.pop("state"), pair.pop("cot")
    grads: list[torch.Tensor | None] = [None] * len(mats)
    m = len(mats)
    for stage in reversed(stages):
        if stage[0] == "perm":
            if not inputs and m:  # (before every matrix stage the state is read no more)
                state = kernels.permute(state, stage[2])
            cot = kernels.permute(cot, stage[2])
            continue
        m -= 1
        if stage[0] == "diag":
            undo = mats[m].conj()
            state = inputs[m] if inputs else state * undo
            g = cot * state.conj()
            grads[m] = g if mats[m].shape[1] == g.shape[1] else g.sum(1)[:, None]
            cot = cot * undo
            continue
        undo = mats[m].conj().swapaxes(-1, -2)
        state = inputs[m] if inputs else kernels.apply(state, undo, stage[1], n)
        grads[m] = kernels.matrix_gradient(cot, state, stage[1], n, stage[2])
        cot = kernels.apply(cot, undo, stage[1], n)
    return cot, grads


def forward(vectors, stages, mats, n: int, words, gather=None) -> tuple[torch.Tensor, dict]:
    """``(Q, n, 2)`` prefix vectors through ``stages`` -> ``(len(words), Q)`` values of ``<Z...Z>``, and
    what :func:`backward` reads.

    ``stages``: ``("perm", index, inverse)``, ``("block", wires, per_row)`` whose matrix is the next of
    ``mats``, or ``("diag", per_row)`` whose ``(2**n, 1 or Q)`` phase factors are the next of ``mats``.
    ``gather``: a last ``("perm", index, inverse)``, applied to the probabilities (Z words only).
    """
    size = 2**n * vectors.shape[0] * 16  # bytes of one complex128 state
    psi, inputs = run(stages, mats, vectors, n, keep=len(mats) * size <= KEEP_BYTES)
    saved = {"psi": psi, "vectors": vectors, "stages": stages, "mats": mats}
    saved.update(inputs=inputs, n=n, words=words, gather=gather)
    if words and isinstance(words[0], pauli.PauliSum):
        return pauli.expectations(psi, words), saved
    return measure.expectations(psi, words, n, None if gather is None else gather[1]), saved


def backward(saved: dict, grad: torch.Tensor) -> tuple[torch.Tensor, list]:
    """The gradients of the prefix vectors and of ``mats`` from that of the ``(len(words), Q)`` values."""
    n, psi = saved["n"], saved.pop("psi")
    words = saved["words"]
    if words and isinstance(words[0], pauli.PauliSum):
        pair = {"state": psi, "cot": pauli.state_cotangent(grad, psi, words)}
    else:
        cot = measure.sign_cotangent(grad, words, n)
        if saved["gather"] is not None:  # the probabilities were gathered: their cotangent goes back
            cot = kernels.permute(cot, saved["gather"][2])
        state_cot = cot * psi  # then doubled in place: no second state-sized temporary
        state_cot *= 2
        pair = {"state": psi, "cot": state_cot}
        del cot
    del psi  # the pass frees each state once it is undone
    cot, grads = _undo(saved["stages"], saved["mats"], pair, n, saved.pop("inputs"))
    return _kron_backward(cot, saved["vectors"]), grads
