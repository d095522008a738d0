"""The small-register engine's two loops, compiled to machine code once by numba (and cached on disk).

A call of a small circuit on the array engine is a few hundred numpy operations on arrays of a few hundred
numbers, so its time is the interpreter's, not the arithmetic's. Here a whole forward pass is one compiled
function, and so is the whole adjoint pass: for each row, every op applied in place to one state vector that
stays in the core's cache.

An op is a run of one-qubit gates on one wire (their product applied once), a two-qubit gate, or a
two-qubit permutation (CNOT, SWAP: amplitudes moved, no arithmetic). Tables:

* ``ops`` ``(P, 5)``: ``kind`` (1, 2 or 3), bit positions ``pa``, ``pb`` (wire ``w`` is bit ``n - 1 - w``; ``pa``
  is the gate's first wire, the more significant index of its 4x4 matrix), and ``start``, ``count`` into
  ``members`` (for a permutation, ``start`` is its row of ``perms``);
* ``perms`` ``(K, 4)``: ``y[r] = x[perm[r]]`` on the gate's four basis states;
* ``members`` ``(M, 3)``: per gate of a run, in circuit order, ``per_row`` (0/1), its slot in the shared
  bank (``s2`` ``(S, 2, 2)``, ``s4``) or the per-row bank (``r2`` ``(B, R, 2, 2)``, ``r4``), and whether it
  has a parameter (constant gates get no gradient);
* ``signs`` ``(O, 2**n)``: the +-1 sign vector of each measured ``<Z...Z>``.

Gradients follow the engine's convention (:mod:`.evolve`): for ``y = U x`` the gradient of ``U`` is
``sum cot_y conj(x)^T``, and the cotangent of the state is ``2 D psi`` with ``D = sum_o cot_o s_o``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_jit = nb.njit(cache=True, nogil=True)


@_jit
def _apply1(x, u, p):
    step = 1 << p
    u00, u01, u10, u11 = u[0, 0], u[0, 1], u[1, 0], u[1, 1]
    for hi in range(0, x.shape[0], 2 * step):
        for i in range(hi, hi + step):
            a, c = x[i], x[i + step]
            x[i] = u00 * a + u01 * c
            x[i + step] = u10 * a + u11 * c


@_jit
def _apply2(x, m, pa, pb):
    ba, bb = 1 << pa, 1 << pb
    for i in range(x.shape[0]):
        if i & ba or i & bb:
            continue
        i1, i2, i3 = i | bb, i | ba, i | ba | bb
        v0, v1, v2, v3 = x[i], x[i1], x[i2], x[i3]
        x[i] = m[0, 0] * v0 + m[0, 1] * v1 + m[0, 2] * v2 + m[0, 3] * v3
        x[i1] = m[1, 0] * v0 + m[1, 1] * v1 + m[1, 2] * v2 + m[1, 3] * v3
        x[i2] = m[2, 0] * v0 + m[2, 1] * v1 + m[2, 2] * v2 + m[2, 3] * v3
        x[i3] = m[3, 0] * v0 + m[3, 1] * v1 + m[3, 2] * v2 + m[3, 3] * v3


@_jit
def _permute2(x, perm, pa, pb, inverse):
    ba, bb = 1 << pa, 1 << pb
    for i in range(x.shape[0]):
        if i & ba or i & bb:
            continue
        j = (i, i | bb, i | ba, i | ba | bb)
        v = (x[j[0]], x[j[1]], x[j[2]], x[j[3]])  # a tuple: no allocation per call
        for r in range(4):
            if inverse:
                x[j[perm[r]]] = v[r]
            else:
                x[j[r]] = v[perm[r]]


@_jit
def _grad1(lam, phi, p, g):
    step = 1 << p
    for hi in range(0, lam.shape[0], 2 * step):
        for i in range(hi, hi + step):
            l0, l1 = lam[i], lam[i + step]
            c0, c1 = np.conj(phi[i]), np.conj(phi[i + step])
            g[0, 0] += l0 * c0
            g[0, 1] += l0 * c1
            g[1, 0] += l1 * c0
            g[1, 1] += l1 * c1


@_jit
def _grad2(lam, phi, pa, pb, g):
    ba, bb = 1 << pa, 1 << pb
    for i in range(lam.shape[0]):
        if i & ba or i & bb:
            continue
        l0, l1, l2, l3 = lam[i], lam[i | bb], lam[i | ba], lam[i | ba | bb]
        c0, c1 = np.conj(phi[i]), np.conj(phi[i | bb])
        c2, c3 = np.conj(phi[i | ba]), np.conj(phi[i | ba | bb])
        for r, lr in enumerate((l0, l1, l2, l3)):
            g[r, 0] += lr * c0
            g[r, 1] += lr * c1
            g[r, 2] += lr * c2
            g[r, 3] += lr * c3


@_jit
def _matrix(members, k, s2, r2, b):
    per_row, slot = members[k, 0], members[k, 1]
    return r2[b, slot] if per_row else s2[slot]


@_jit
def _mul2(a, b, out, a_dagger, b_dagger):
    """``out = op(a) @ op(b)`` for 2x2 matrices, ``op`` the conjugate transpose where asked (no BLAS call,
    which costs more than the product at this size); ``out`` may be ``a`` or ``b``."""
    a00, a01, a10, a11 = a[0, 0], a[0, 1], a[1, 0], a[1, 1]
    if a_dagger:
        a00, a01, a10, a11 = np.conj(a00), np.conj(a10), np.conj(a01), np.conj(a11)
    b00, b01, b10, b11 = b[0, 0], b[0, 1], b[1, 0], b[1, 1]
    if b_dagger:
        b00, b01, b10, b11 = np.conj(b00), np.conj(b10), np.conj(b01), np.conj(b11)
    out[0, 0] = a00 * b00 + a01 * b10
    out[0, 1] = a00 * b01 + a01 * b11
    out[1, 0] = a10 * b00 + a11 * b10
    out[1, 1] = a10 * b01 + a11 * b11


@_jit
def _add(total, g):
    for r in range(g.shape[0]):
        for c in range(g.shape[1]):
            total[r, c] += g[r, c]


@_jit
def _identity(u):
    u[0, 0], u[0, 1], u[1, 0], u[1, 1] = 1.0, 0.0, 0.0, 1.0


@_jit
def _run_product(members, start, count, s2, r2, b, u):
    """``u`` = the run's product, last gate leftmost."""
    _identity(u)
    for k in range(start, start + count):
        _mul2(_matrix(members, k, s2, r2, b), u, u, False, False)


@_jit
def _dagger(u, out):
    for r in range(u.shape[0]):
        for c in range(u.shape[0]):
            out[r, c] = np.conj(u[c, r])


@_jit
def _flags(ops, members):
    """Per op: whether any of its gates is per-row, and whether any has a parameter."""
    per_row, trainable = np.zeros(ops.shape[0], np.bool_), np.zeros(ops.shape[0], np.bool_)
    for p in range(ops.shape[0]):
        if ops[p, 0] != 3:
            for k in range(ops[p, 3], ops[p, 3] + ops[p, 4]):
                per_row[p] |= members[k, 0] != 0
                trainable[p] |= members[k, 2] != 0
    return per_row, trainable


@_jit
def forward(ops, members, perms, s2, r2, s4, r4, signs, rows):
    """``rows`` states from ``|0...0>`` through every op -> ``(rows, 2**n)`` states, ``(rows, O)`` values.
    Op by op over all rows, so that a shared run's product is made once."""
    size = signs.shape[1]
    psi = np.zeros((rows, size), np.complex128)
    psi[:, 0] = 1.0
    u = np.empty((2, 2), np.complex128)
    op_row, _ = _flags(ops, members)
    for p in range(ops.shape[0]):
        kind, pa, pb, start, count = ops[p, 0], ops[p, 1], ops[p, 2], ops[p, 3], ops[p, 4]
        if kind == 1 and not op_row[p]:
            _run_product(members, start, count, s2, r2, 0, u)
        for b in range(rows):
            if kind == 1:
                if op_row[p]:
                    _run_product(members, start, count, s2, r2, b, u)
                _apply1(psi[b], u, pa)
            elif kind == 3:
                _permute2(psi[b], perms[start], pa, pb, False)
            else:
                _apply2(psi[b], _matrix(members, start, s4, r4, b), pa, pb)
    values = np.zeros((rows, signs.shape[0]))
    for b in range(rows):
        for i in range(size):
            prob = psi[b, i].real ** 2 + psi[b, i].imag ** 2
            for o in range(signs.shape[0]):
                values[b, o] += signs[o, i] * prob
    return psi, values


@_jit
def _run_gradients(g, members, start, count, s2, r2, b, g2, gr2, pre, suf, dm):
    """Spread the gradient ``g`` of a run's product over its gates: ``dM_j = L_j^H g R_j^H`` with ``R_j``
    the product of the gates before ``M_j`` and ``L_j`` of those after it."""
    _identity(pre[0])
    for j in range(1, count):
        _mul2(_matrix(members, start + j - 1, s2, r2, b), pre[j - 1], pre[j], False, False)
    _identity(suf[count - 1])
    for j in range(count - 2, -1, -1):
        _mul2(suf[j + 1], _matrix(members, start + j + 1, s2, r2, b), suf[j], False, False)
    for j in range(count):
        if not members[start + j, 2]:
            continue
        _mul2(g, pre[j], dm, False, True)
        _mul2(suf[j], dm, dm, True, False)
        per_row, slot = members[start + j, 0], members[start + j, 1]
        _add(gr2[b, slot] if per_row else g2[slot], dm)


@_jit
def _row_lead(members, start, count):
    """How many gates a run's per-row gates lead it by, when they all come before its shared ones (an
    embedding then trainable rotations); -1 when the two kinds interleave."""
    lead = 0
    while lead < count and members[start + lead, 0]:
        lead += 1
    for k in range(start + lead, start + count):
        if members[k, 0]:
            return -1
    return lead


@_jit
def _split_run(phi, lam, members, start, count, pa, s2, r2, g2, gr2, pre, suf, work):
    """A run ``U_b = S R_b``: per-row gates ``R_b`` first, shared ones ``S`` after. Each row gives ``S^H G_b``
    to its own gates and ``G_b R_b^H`` to a sum that is spread over the shared gates once, instead of
    spreading every row's gradient over the whole run."""
    lead = _row_lead(members, start, count)
    shared, total, rb, u, g, t, uh = work[0], work[1], work[2], work[3], work[4], work[5], work[6]
    _run_product(members, start + lead, count - lead, s2, r2, 0, shared)
    total[:] = 0
    for b in range(phi.shape[0]):
        _run_product(members, start, lead, s2, r2, b, rb)
        _mul2(shared, rb, u, False, False)
        _dagger(u, uh)
        _apply1(phi[b], uh, pa)
        g[:] = 0
        _grad1(lam[b], phi[b], pa, g)
        _mul2(g, rb, t, False, True)
        _add(total, t)
        _mul2(shared, g, t, True, False)  # the gradient of R_b
        _run_gradients(t, members, start, lead, s2, r2, b, g2, gr2, pre, suf, g)
        _apply1(lam[b], uh, pa)
    _run_gradients(total, members, start + lead, count - lead, s2, r2, 0, g2, gr2, pre, suf, g)


@_jit
def backward(psi, cot, ops, members, perms, s2, r2, s4, r4, signs, g2, gr2, g4, gr4):
    """The adjoint pass: the gradients of every bank matrix (added into ``g2``, ``gr2``, ``g4``, ``gr4``) from
    the ``(rows, O)`` cotangent of the values; each row's state is undone op by op beside its cotangent. A
    shared op's gradient is summed over the rows before it is spread over its gates."""
    rows, size = psi.shape
    op_row, trainable = _flags(ops, members)
    longest = max(1, ops[:, 4].max()) if ops.shape[0] else 1
    phi, lam = psi.copy(), np.empty_like(psi)
    for b in range(rows):
        for i in range(size):
            d = 0.0
            for o in range(signs.shape[0]):
                d += cot[b, o] * signs[o, i]
            lam[b, i] = 2.0 * d * psi[b, i]
    u, uh = np.empty((2, 2), np.complex128), np.empty((2, 2), np.complex128)
    mh, g4_op = np.empty((4, 4), np.complex128), np.empty((4, 4), np.complex128)
    g, dm = np.empty((2, 2), np.complex128), np.empty((2, 2), np.complex128)
    pre, suf = np.empty((longest, 2, 2), np.complex128), np.empty((longest, 2, 2), np.complex128)
    work = np.empty((7, 2, 2), np.complex128)
    for p in range(ops.shape[0] - 1, -1, -1):
        kind, pa, pb, start, count = ops[p, 0], ops[p, 1], ops[p, 2], ops[p, 3], ops[p, 4]
        row, grad = op_row[p], trainable[p]
        if kind == 3:
            for b in range(rows):
                _permute2(phi[b], perms[start], pa, pb, True)
                _permute2(lam[b], perms[start], pa, pb, True)
        elif kind == 1 and row and grad and 0 < _row_lead(members, start, count) < count:
            _split_run(phi, lam, members, start, count, pa, s2, r2, g2, gr2, pre, suf, work)
        elif kind == 1:
            g[:] = 0
            for b in range(rows):
                if row or b == 0:
                    _run_product(members, start, count, s2, r2, b, u)
                    _dagger(u, uh)
                _apply1(phi[b], uh, pa)
                if grad:
                    _grad1(lam[b], phi[b], pa, g)
                    if row:
                        _run_gradients(g, members, start, count, s2, r2, b, g2, gr2, pre, suf, dm)
                        g[:] = 0
                _apply1(lam[b], uh, pa)
            if grad and not row:
                _run_gradients(g, members, start, count, s2, r2, 0, g2, gr2, pre, suf, dm)
        else:
            slot = members[start, 1]
            g4_op[:] = 0
            for b in range(rows):
                if row or b == 0:
                    _dagger(_matrix(members, start, s4, r4, b), mh)
                _apply2(phi[b], mh, pa, pb)
                if grad:
                    _grad2(lam[b], phi[b], pa, pb, g4_op)
                    if row:
                        _add(gr4[b, slot], g4_op)
                        g4_op[:] = 0
                _apply2(lam[b], mh, pa, pb)
            if grad and not row:
                _add(g4[slot], g4_op)


@_jit
def _source(inputs, weights, b, f):
    """Source ``f`` of row ``b``: ``[inputs[b]..., weights..., 1]``."""
    n_in = inputs.shape[1]
    if f < n_in:
        return inputs[b, f]
    if f < n_in + weights.shape[0]:
        return weights[f - n_in]
    return 1.0


@_jit
def fill(inputs, weights, rot, shared, per_row_bank):
    """Every rotation of one width into its bank slot: ``a + cos(t) c + sin(t) s`` with ``t = freq (scale
    src[f0] src[f1] + offset)``, for every row where it reads the inputs. Returns the ``(rows, G)`` angles."""
    freq, a, c, s, scale, offset, f0, f1, per_row, slot = rot
    rows, d = per_row_bank.shape[0], a.shape[1]
    ft = np.zeros((rows, freq.shape[0]))
    for g in range(freq.shape[0]):
        for b in range(rows if per_row[g] else 1):
            t = freq[g] * (scale[g] * _source(inputs, weights, b, f0[g]) * _source(inputs, weights, b, f1[g]))
            t += freq[g] * offset[g]
            ft[b, g] = t
            co, si = np.cos(t), np.sin(t)
            out = per_row_bank[b, slot[g]] if per_row[g] else shared[slot[g]]
            for r in range(d):
                for k in range(d):
                    out[r, k] = a[g, r, k] + co * c[g, r, k] + si * s[g, r, k]
    return ft


@_jit
def unfill(inputs, weights, rot, ft, g_shared, g_per_row, grad_inputs, grad_weights):
    """The gradients of inputs and weights (added) from those of the bank matrices (torch's convention
    for complex tensors: ``dL/dt = Re sum conj(dL/dM) dM/dt``)."""
    freq, a, c, s, scale, offset, f0, f1, per_row, slot = rot
    n_in, d = inputs.shape[1], a.shape[1]
    for g in range(freq.shape[0]):
        for b in range(g_per_row.shape[0] if per_row[g] else 1):
            grad = g_per_row[b, slot[g]] if per_row[g] else g_shared[slot[g]]
            co, si = np.cos(ft[b, g]), np.sin(ft[b, g])
            total = 0.0
            for r in range(d):
                for k in range(d):
                    total += (np.conj(grad[r, k]) * (co * s[g, r, k] - si * c[g, r, k])).real
            total *= freq[g] * scale[g]
            for f, other in ((f0[g], f1[g]), (f1[g], f0[g])):
                share = total * _source(inputs, weights, b, other)
                if f < n_in:
                    grad_inputs[b, f] += share
                elif f < n_in + weights.shape[0]:
                    grad_weights[f - n_in] += share


@_jit
def call_forward(inputs, weights, rows, ops, members, perms, signs, tmpl2, rot2, tmpl4, rot4):
    """One call: the bank matrices, then :func:`forward`. ``tmpl2``, ``tmpl4``: the shared banks with their
    constant gates in place; ``rot2``, ``rot4``: the rotation tables of :func:`fill` plus, last, the size
    of their per-row bank."""
    s2, s4 = tmpl2.copy(), tmpl4.copy()
    r2 = np.zeros((inputs.shape[0], rot2[10], 2, 2), np.complex128)
    r4 = np.zeros((inputs.shape[0], rot4[10], 4, 4), np.complex128)
    ft2 = fill(inputs, weights, rot2[:10], s2, r2)
    ft4 = fill(inputs, weights, rot4[:10], s4, r4)
    psi, values = forward(ops, members, perms, s2, r2, s4, r4, signs, rows)
    return psi, values, (s2, r2, s4, r4, ft2, ft4)


@_jit
def call_backward(inputs, weights, psi, cot, ops, members, perms, signs, rot2, rot4, saved):
    """The gradients of ``inputs`` and ``weights`` from the ``(rows, O)`` cotangent of the values."""
    s2, r2, s4, r4, ft2, ft4 = saved
    g2, gr2, g4, gr4 = np.zeros_like(s2), np.zeros_like(r2), np.zeros_like(s4), np.zeros_like(r4)
    backward(psi, cot, ops, members, perms, s2, r2, s4, r4, signs, g2, gr2, g4, gr4)
    grad_inputs, grad_weights = np.zeros_like(inputs), np.zeros_like(weights)
    unfill(inputs, weights, rot2[:10], ft2, g2, gr2, grad_inputs, grad_weights)
    unfill(inputs, weights, rot4[:10], ft4, g4, gr4, grad_inputs, grad_weights)
    return grad_inputs, grad_weights
