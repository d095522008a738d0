"""Which PennyLane operations the torch engine runs, and each one's matrix as a function of its parameter.

Every gate the engine keeps is one of three kinds, decided once per operation type and width:

* ``perm``:  no parameter and a 0/1 matrix (``CNOT``, ``SWAP``, ``PauliX``, ``Toffoli``): a permutation of the
  basis, applied as one gather and merged with its neighbours;
* ``fixed``: no parameter, any other matrix (``Hadamard``, ``S``, ``CZ``);
* ``trig``:  one real parameter ``t`` and a matrix ``A + cos(f t) C + sin(f t) S`` with constant ``A, C, S``
  and ``f`` in {1/2, 1}. That holds for every gate ``exp(-i t G)`` whose generator has eigenvalues in
  ``{0, ±f}``: rotations, controlled rotations, Ising couplings, ``MultiRZ``, ``PauliRot``, phase shifts. All
  gates of this kind with the same width are built in one vectorised expression per call.

Operations of none of these kinds (``Rot``, ``U3``, templates) are decomposed by PennyLane until they are.
The three constant matrices are found by evaluating the operation at ``t = 0, π/(2f), π/f`` and checked at a
fourth angle, so no gate's formula is written here twice.
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qp
from pennylane.ops.functions import bind_new_parameters

#: The widest gate applied as one matrix (a double excitation has four wires); wider ones are decomposed.
MAX_GATE_WIRES = 4
_FREQUENCIES = (0.5, 1.0)
_CHECK_ANGLE = 0.7312


def _matrix(op) -> np.ndarray:
    return np.asarray(qp.matrix(op, wire_order=op.wires), dtype=np.complex128)


def _is_permutation(m: np.ndarray) -> bool:
    return bool(np.all((m == 0) | (m == 1)) and np.all(m.sum(axis=0) == 1) and np.all(m.sum(axis=1) == 1))


def fit_trig(matrix_at, f: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(A, C, S)`` with ``matrix_at(t) = A + cos(f t) C + sin(f t) S`` for every ``t`` (read at ``t = 0,
    pi/(2f), pi/f`` and checked at a fourth angle), or None when ``matrix_at`` has no such form."""
    u0, u1, u2 = (matrix_at(t) for t in (0.0, math.pi / (2 * f), math.pi / f))
    a, c = (u0 + u2) / 2, (u0 - u2) / 2
    s = u1 - a
    fitted = a + math.cos(f * _CHECK_ANGLE) * c + math.sin(f * _CHECK_ANGLE) * s
    return (a, c, s) if np.allclose(fitted, matrix_at(_CHECK_ANGLE), atol=1e-12) else None


def trig_form(op) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
    """``(f, A, C, S)`` with ``matrix(op at t) = A + cos(f t) C + sin(f t) S`` for every ``t``, or None."""
    for f in _FREQUENCIES:
        form = fit_trig(lambda t: _matrix(bind_new_parameters(op, [t])), f)
        if form is not None:
            return (f, *form)
    return None


def _signature(op) -> tuple:
    # what decides an operation's kind: its type, width and hyperparameters (PauliRot's word)
    hyper = tuple(sorted((k, repr(v)) for k, v in op.hyperparameters.items()))
    return type(op).__name__, len(op.wires), hyper


_KINDS: dict[tuple, str | None] = {}


def gate_kind(op) -> str | None:
    """``perm``, ``fixed`` or ``trig`` for an operation the engine runs as it is, else None (decompose it)."""
    if len(op.wires) > MAX_GATE_WIRES or not op.has_matrix or isinstance(op, qp.operation.StatePrepBase):
        return None
    key = _signature(op)
    if key not in _KINDS:
        _KINDS[key] = _classify(op)
    return _KINDS[key]


def _classify(op) -> str | None:
    if op.num_params == 0:
        return "perm" if _is_permutation(_matrix(op)) else "fixed"
    if op.num_params != 1:
        return None
    try:
        return "trig" if trig_form(op) is not None else None
    except (qp.exceptions.PennyLaneError, TypeError, ValueError, NotImplementedError):
        return None


def fixed_matrix(op) -> np.ndarray:
    """The matrix of a parameterless operation, in the order of its own wires."""
    return _matrix(op)


def local_permutation(op) -> np.ndarray:
    """For a ``perm`` gate: ``src`` with ``(G x)[r] = x[src[r]]`` on the gate's own ``2**m`` basis."""
    return np.argmax(_matrix(op), axis=1)


def trig_constants(op) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    form = trig_form(bind_new_parameters(op, [0.0]))
    if form is None:  # gate_kind said trig
        raise AssertionError(f"{op.name} lost its trigonometric form")
    return form


def diagonal_phases(op) -> tuple[np.ndarray, np.ndarray] | None:
    """For a diagonal gate: ``(phi, m)`` with diagonal entries ``exp(i (phi + m t))`` at parameter ``t``
    (``m`` is 0 for a parameterless gate), or None when the gate is not diagonal with entries of that form."""
    if op.num_params == 0:
        m = fixed_matrix(op)
        d = np.diag(m)
        if not np.allclose(m, np.diag(d), atol=1e-14) or not np.allclose(np.abs(d), 1, atol=1e-12):
            return None
        return np.angle(d), np.zeros(len(d))
    f, a, c, s = trig_constants(op)
    if not all(np.allclose(x, np.diag(np.diag(x)), atol=1e-14) for x in (a, c, s)):
        return None
    a, c, s = np.diag(a), np.diag(c), np.diag(s)
    constant = (np.abs(c) < 1e-14) & (np.abs(s) < 1e-14)
    if not np.allclose(np.abs(a[constant]), 1, atol=1e-12) or np.any(np.abs(a[~constant]) > 1e-14):
        return None
    ratio = np.zeros(len(c), dtype=np.complex128)
    ratio[~constant] = s[~constant] / (1j * c[~constant])
    if not np.allclose(ratio.imag, 0, atol=1e-12) or not np.allclose(np.abs(ratio[~constant]), 1, atol=1e-12):
        return None
    m = ratio.real
    phi = np.where(constant, np.angle(a), np.angle(c))
    return phi, m * f
