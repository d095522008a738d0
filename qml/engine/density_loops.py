"""The density engine's loops for small registers, compiled once by numba (and cached on disk).

The statevector loops of :mod:`.loops` for density matrices: each row is the ``4**n`` real Pauli coefficients
of its density matrix (qubit ``w``'s letter I, X, Y, Z is the base-4 digit ``n - 1 - w``), and every gate,
error and channel is a real transfer matrix. An op is a run of one-qubit items on one wire (their ``4 x 4``
product applied once) or a two-qubit item (``16 x 16``, the item's first wire the more significant digit).
Noise is not unitary, so the backward pass cannot undo the ops: the forward pass keeps each op's input.

Tables as in :mod:`.loops`: ``ops`` ``(P, 5)`` (``kind`` 1 or 2, the digits' strides ``sa``, ``sb``, then
``start``, ``count`` into ``members``), ``members`` ``(M, 3)`` (``per_row``, slot, has a parameter), the banks
``s4`` ``(S, 4, 4)``, ``r4`` ``(B, R, 4, 4)``, ``s16``, ``r16``; the rotations are filled by :func:`.loops.fill`
(``E K0 + cos(t) E K1 + sin(t) E K2``, :func:`.superops.rotation_form`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .loops import _add, _flags, _matrix, fill, unfill  # the same bookkeeping as the statevector loops

_jit = nb.njit(cache=True, nogil=True)


@_jit
def _apply_one(x, m, stride, transpose):
    for hi in range(0, x.shape[0], 4 * stride):
        for i in range(hi, hi + stride):
            v0, v1, v2, v3 = x[i], x[i + stride], x[i + 2 * stride], x[i + 3 * stride]
            for r in range(4):
                if transpose:
                    x[i + r * stride] = m[0, r] * v0 + m[1, r] * v1 + m[2, r] * v2 + m[3, r] * v3
                else:
                    x[i + r * stride] = m[r, 0] * v0 + m[r, 1] * v1 + m[r, 2] * v2 + m[r, 3] * v3


@_jit
def _grad_one(cot, x, stride, g):
    for hi in range(0, x.shape[0], 4 * stride):
        for i in range(hi, hi + stride):
            for r in range(4):
                c = cot[i + r * stride]
                for k in range(4):
                    g[r, k] += c * x[i + k * stride]


@_jit
def _bases(size, sa, sb):
    """The indices whose digits at strides ``sa`` and ``sb`` are both 0."""
    out = np.empty(size // 16, np.int64)
    k = 0
    for i in range(size):
        if (i // sa) % 4 == 0 and (i // sb) % 4 == 0:
            out[k] = i
            k += 1
    return out


@_jit
def _apply_two(x, m, sa, sb, bases, v, transpose):
    for i in bases:
        for r in range(16):
            v[r] = x[i + (r >> 2) * sa + (r & 3) * sb]
        for r in range(16):
            total = 0.0
            for k in range(16):
                total += (m[k, r] if transpose else m[r, k]) * v[k]
            x[i + (r >> 2) * sa + (r & 3) * sb] = total


@_jit
def _grad_two(cot, x, sa, sb, bases, g):
    for i in bases:
        for r in range(16):
            c = cot[i + (r >> 2) * sa + (r & 3) * sb]
            for k in range(16):
                g[r, k] += c * x[i + (k >> 2) * sa + (k & 3) * sb]


@_jit
def _mul(a, b, out, ta, tb, scratch):
    """``out = op(a) @ op(b)`` for small square matrices (``op``: the transpose where asked) without a BLAS
    call; ``out`` may be ``a`` or ``b``."""
    d = a.shape[0]
    for r in range(d):
        for c in range(d):
            total = 0.0
            for k in range(d):
                total += (a[k, r] if ta else a[r, k]) * (b[c, k] if tb else b[k, c])
            scratch[r, c] = total
    out[:] = scratch


@_jit
def _run_product(members, start, count, s4, r4, b, u, scratch):
    """``u`` = the run's product, last item leftmost."""
    u[:] = _matrix(members, start, s4, r4, b)
    for k in range(start + 1, start + count):
        _mul(_matrix(members, k, s4, r4, b), u, u, False, False, scratch)


@_jit
def forward(ops, members, s4, r4, s16, r16, start, words, rows):
    """``rows`` density matrices from ``start`` through every op -> the ``(P + 1, rows, 4**n)`` inputs of every
    op (the last: the final coefficients) and the ``(rows, O)`` values."""
    size = start.shape[0]
    states = np.empty((ops.shape[0] + 1, rows, size))
    states[0] = start
    u, v, scratch = np.empty((4, 4)), np.empty(16), np.empty((4, 4))
    op_row, _ = _flags(ops, members)
    for p in range(ops.shape[0]):
        kind, sa, sb, first, count = ops[p, 0], ops[p, 1], ops[p, 2], ops[p, 3], ops[p, 4]
        states[p + 1] = states[p]
        bases = _bases(size, sa, sb) if kind == 2 else np.empty(0, np.int64)  # (16 ** (n - 2) of them)
        if kind == 1 and not op_row[p]:
            _run_product(members, first, count, s4, r4, 0, u, scratch)
        for b in range(rows):
            x = states[p + 1, b]
            if kind == 1:
                if op_row[p]:
                    _run_product(members, first, count, s4, r4, b, u, scratch)
                _apply_one(x, u, sa, False)
            else:
                _apply_two(x, _matrix(members, first, s16, r16, b), sa, sb, bases, v, False)
    values = np.empty((rows, words.shape[0]))
    for b in range(rows):
        for o in range(words.shape[0]):
            values[b, o] = states[-1, b, words[o]]
    return states, values


@_jit
def _run_gradients(g, members, start, count, s4, r4, b, g4, gr4, work):
    """``dM_j = L_j^T g R_j^T`` for each item of a run (``R_j``: the product before it, ``L_j``: after it).
    ``work``: ``(4, 4, 4)`` scratch."""
    right, left, dm, scratch = work[0], work[1], work[2], work[3]
    for j in range(count):
        if not members[start + j, 2]:
            continue
        right[:], left[:] = 0.0, 0.0
        for r in range(4):
            right[r, r] = left[r, r] = 1.0
        for k in range(start, start + j):
            _mul(_matrix(members, k, s4, r4, b), right, right, False, False, scratch)
        for k in range(start + j + 1, start + count):
            _mul(_matrix(members, k, s4, r4, b), left, left, False, False, scratch)
        _mul(g, right, dm, False, True, scratch)
        _mul(left, dm, dm, True, False, scratch)
        total = gr4[b, members[start + j, 1]] if members[start + j, 0] else g4[members[start + j, 1]]
        _add(total, dm)


@_jit
def backward(states, cot_values, ops, members, s4, r4, s16, r16, words, g4, gr4, g16, gr16):
    """The gradients of every bank matrix (added into ``g4``, ``gr4``, ``g16``, ``gr16``) from the ``(rows, O)``
    cotangent of the values, op by op back from the last with the inputs the forward pass kept."""
    rows, size = states.shape[1], states.shape[2]
    cot = np.zeros((rows, size))
    for b in range(rows):
        for o in range(words.shape[0]):
            cot[b, words[o]] += cot_values[b, o]
    op_row, trainable = _flags(ops, members)
    u, v, work = np.empty((4, 4)), np.empty(16), np.empty((4, 4, 4))
    g, g16_op = np.empty((4, 4)), np.empty((16, 16))
    for p in range(ops.shape[0] - 1, -1, -1):
        kind, sa, sb, first, count = ops[p, 0], ops[p, 1], ops[p, 2], ops[p, 3], ops[p, 4]
        row, grad = op_row[p], trainable[p]
        if kind == 1:
            g[:] = 0
            for b in range(rows):
                if row or b == 0:
                    _run_product(members, first, count, s4, r4, b, u, work[3])
                if grad:
                    _grad_one(cot[b], states[p, b], sa, g)
                    if row:
                        _run_gradients(g, members, first, count, s4, r4, b, g4, gr4, work)
                        g[:] = 0
                _apply_one(cot[b], u, sa, True)
            if grad and not row:
                _run_gradients(g, members, first, count, s4, r4, 0, g4, gr4, work)
        else:
            bases = _bases(size, sa, sb)
            g16_op[:] = 0
            slot = members[first, 1]
            for b in range(rows):
                if grad:
                    _grad_two(cot[b], states[p, b], sa, sb, bases, g16_op)
                    if row:
                        _add(gr16[b, slot], g16_op)
                        g16_op[:] = 0
                _apply_two(cot[b], _matrix(members, first, s16, r16, b), sa, sb, bases, v, True)
            if grad and not row:
                _add(g16[slot], g16_op)


@_jit
def call_forward(inputs, weights, rows, ops, members, start, words, tmpl4, rot4, tmpl16, rot16):
    """One call: the bank matrices (:func:`.loops.fill`), then :func:`forward`."""
    s4, s16 = tmpl4.copy(), tmpl16.copy()
    r4 = np.zeros((inputs.shape[0], rot4[10], 4, 4))
    r16 = np.zeros((inputs.shape[0], rot16[10], 16, 16))
    ft4 = fill(inputs, weights, rot4[:10], s4, r4)
    ft16 = fill(inputs, weights, rot16[:10], s16, r16)
    states, values = forward(ops, members, s4, r4, s16, r16, start, words, rows)
    return values, (states, s4, r4, s16, r16, ft4, ft16)


@_jit
def call_backward(inputs, weights, cot, ops, members, words, rot4, rot16, saved):
    """The gradients of ``inputs`` and ``weights`` from the ``(rows, O)`` cotangent of the values."""
    states, s4, r4, s16, r16, ft4, ft16 = saved
    g4, gr4, g16, gr16 = np.zeros_like(s4), np.zeros_like(r4), np.zeros_like(s16), np.zeros_like(r16)
    backward(states, cot, ops, members, s4, r4, s16, r16, words, g4, gr4, g16, gr16)
    grad_inputs, grad_weights = np.zeros_like(inputs), np.zeros_like(weights)
    unfill(inputs, weights, rot4[:10], ft4, g4, gr4, grad_inputs, grad_weights)
    unfill(inputs, weights, rot16[:10], ft16, g16, gr16, grad_inputs, grad_weights)
    return grad_inputs, grad_weights
