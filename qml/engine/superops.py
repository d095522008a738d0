"""Gates and noise as superoperators on a vectorised density matrix, for the density engine.

A density matrix ``rho`` of ``n`` qubits is held as a state of ``2n`` bits with each qubit's row bit and
column bit side by side: index ``(r0 c0 r1 c1 ...)``, ``r0`` the most significant (PennyLane's wire 0). An
operation on ``k`` qubits is then a ``4**k`` square matrix on ``2k`` contiguous bits when its qubits are
contiguous, and every kernel of the statevector engine (:mod:`.kernels`) applies it. With Kraus operators
``K_i`` (a unitary gate has one) the matrix is ``sum_i K_i (x) conj(K_i)`` with the factors' bits
interleaved (:func:`superop`), so that ``rho -> sum_i K_i rho K_i^dagger``.

The gates are the ones Qiskit Aer runs for a circuit (:mod:`qhybrid.qml.aer.compile`): a noise model's
errors are attached to those names, so the density engine follows the same decomposition and lands every
error where Aer does. Qiskit orders a matrix's qubits little-endian; :func:`big_endian` turns such a matrix
into PennyLane's order.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np


def big_endian(m: np.ndarray) -> np.ndarray:
    """A ``2**k`` square matrix with its qubit order reversed (Qiskit's little-endian <-> PennyLane's)."""
    k = int(round(math.log2(m.shape[-1])))
    if k < 2:
        return m
    order = list(range(k))[::-1]
    t = m.reshape(*m.shape[:-2], *([2] * 2 * k))
    lead = m.ndim - 2
    axes = list(range(lead)) + [lead + i for i in order] + [lead + k + i for i in order]
    return t.transpose(axes).reshape(m.shape)


def _interleave_axes(k: int) -> list[int]:
    # the outer product K[r, r'] conj(K)[c, c'] has axes (r1..rk, r1'..rk', c1..ck, c1'..ck'); the superoperator
    # wants (r1 c1 .. rk ck, r1' c1' .. rk' ck')
    out = [a for i in range(k) for a in (i, 2 * k + i)]
    inp = [a for i in range(k) for a in (k + i, 3 * k + i)]
    return out + inp


def superop(kraus) -> np.ndarray:
    """The ``4**k`` superoperator of Kraus operators ``kraus`` (big-endian ``2**k`` matrices)."""
    kraus = np.asarray(kraus, dtype=np.complex128)
    d = kraus.shape[-1]
    k = int(round(math.log2(d)))
    t = np.einsum("iab,icd->abcd", kraus, kraus.conj()).reshape([2] * 4 * k)
    return t.transpose(_interleave_axes(k)).reshape(d * d, d * d)


def unitary_superop(u, xp):
    """``U (x) conj(U)`` interleaved for a batch of ``(..., 2**k, 2**k)`` unitaries (numpy or torch)."""
    d = u.shape[-1]
    k = int(round(math.log2(d)))
    lead = u.shape[:-2]
    t = xp.einsum("...ab,...cd->...abcd", u, u.conj()).reshape(*lead, *([2] * 4 * k))
    axes = list(range(len(lead))) + [len(lead) + a for a in _interleave_axes(k)]
    return xp.permute(t, axes).reshape(*lead, d * d, d * d)


# ----------------------------------------------------------------------------------------- native gates
#: Aer's names of the rotations the device emits and the frequency ``f`` of ``A + cos(f t) C + sin(f t) S``.
_FREQUENCY = {"rx": 0.5, "ry": 0.5, "rz": 0.5, "p": 1.0, "rxx": 0.5, "ryy": 0.5, "rzz": 0.5}


def _qiskit_matrix(name: str, angle: float | None = None) -> np.ndarray:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    gate = get_standard_gate_name_mapping()[name]
    if angle is not None:
        gate = type(gate)(angle)
    return big_endian(np.asarray(gate.to_matrix(), dtype=np.complex128))


@cache
def fixed_gate(name: str) -> np.ndarray:
    """The big-endian matrix of a parameterless Aer gate (``cx``: control first)."""
    return _qiskit_matrix(name)


@cache
def rotation_form(name: str) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``(f, A, C, S)`` with ``matrix(name at t) = A + cos(f t) C + sin(f t) S`` (big-endian)."""
    f = _FREQUENCY[name]
    u0, u1, u2 = (_qiskit_matrix(name, t) for t in (0.0, math.pi / (2 * f), math.pi / f))
    a, c = (u0 + u2) / 2, (u0 - u2) / 2
    s = u1 - a
    check = 0.7312
    if not np.allclose(a + math.cos(f * check) * c + math.sin(f * check) * s, _qiskit_matrix(name, check)):
        raise AssertionError(f"{name} is not of the form A + cos(f t) C + sin(f t) S")
    return f, a, c, s


def is_rotation(name: str) -> bool:
    return name in _FREQUENCY


# ------------------------------------------------------------------------------------------- noise models
def gate_error(model, name: str, qubits: tuple[int, ...]) -> np.ndarray | None:
    """The superoperator (big-endian on the gate's qubits, in the gate's order) of the error ``model`` puts
    after gate ``name`` on Qiskit ``qubits``, or None. A local error replaces the all-qubit one, as in Aer."""
    if model is None:
        return None
    local = model._local_quantum_errors.get(name, {})
    error = local.get(tuple(qubits), model._default_quantum_errors.get(name))
    if error is None:
        return None
    if error.num_qubits != len(qubits):
        raise ValueError(
            f"the noise model's error on {name!r} acts on {error.num_qubits} qubits, the gate on {len(qubits)}"
        )
    return _error_superop(error)


_SUPEROPS: dict = {}


def _error_superop(error) -> np.ndarray:
    key = id(error)
    if key not in _SUPEROPS or _SUPEROPS[key][0] is not error:
        from qiskit.quantum_info import Kraus

        if len(_SUPEROPS) > 256:
            _SUPEROPS.clear()
        kraus = [big_endian(np.asarray(k)) for k in Kraus(error).data]
        _SUPEROPS[key] = (error, superop(kraus))
    return _SUPEROPS[key][1]


def unsupported_noise(model) -> str | None:
    """Why the density engine cannot run ``model`` exactly as Aer would, or None when it can."""
    if model is None:
        return None
    try:
        if model._custom_noise_passes:
            return "the noise model has custom noise passes"
        if getattr(model, "_nonlocal_quantum_errors", None):
            return "the noise model has non-local errors"
        model._local_quantum_errors, model._default_quantum_errors  # noqa: B018 - the layout we read
    except AttributeError:
        return "the noise model's layout is not one this version reads"
    return None
