"""Gates and noise as Pauli transfer matrices on a density matrix's Pauli coefficients, for the density engine.

A density matrix ``rho`` of ``n`` qubits is held as its ``4**n`` real coefficients ``c_P = Tr(P rho)`` over the
Pauli words ``P`` (each qubit's letter ``I, X, Y, Z`` is a base-4 digit, wire 0 the most significant, as in
PennyLane), so ``rho = sum_P c_P P / 2**n``. A channel on ``k`` qubits is then a real ``4**k`` square matrix,
its Pauli transfer matrix ``R[P, Q] = Tr(P E(Q)) / 2**k``, and every kernel of the statevector engine
(:mod:`.kernels`) applies it to the two bits of each of its qubits. Real arithmetic is a quarter of the
complex multiply-adds and half the memory of the density matrix itself; ``<Z...Z>`` is one coefficient.

The gates are the ones Qiskit Aer runs for a circuit (:mod:`qhybrid.qml.aer.compile`): a noise model's
errors are attached to those names, so the density engine follows the same decomposition and lands every
error where Aer does. Qiskit orders a matrix's qubits little-endian; :func:`big_endian` turns such a matrix
into PennyLane's order.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from .gates import fit_trig


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


_PAULIS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])


def ptm(kraus) -> np.ndarray:
    """The real Pauli transfer matrix of the channel with Kraus operators ``kraus`` (big-endian ``2**k``
    matrices): ``R[P, Q] = Tr(P sum_i K_i Q K_i^dagger) / 2**k``."""
    kraus = np.asarray(kraus, dtype=np.complex128)
    d = kraus.shape[-1]
    k = int(round(math.log2(d)))
    words = _words(k)
    images = np.einsum("iab,qbc,idc->qad", kraus, words, kraus.conj())  # E(Q) for every word Q
    r = np.einsum("pba,qab->pq", words, images) / d
    if np.abs(r.imag).max() > 1e-12:
        raise ValueError("the channel does not preserve Hermiticity (its Pauli transfer matrix is complex)")
    return np.ascontiguousarray(r.real)


def _words(k: int) -> np.ndarray:
    """Every ``k``-qubit Pauli word's matrix, in the coefficient order (first qubit's letter most significant)."""
    words = _PAULIS
    for _ in range(k - 1):
        d = 2 * words.shape[-1]
        words = np.einsum("aij,bkl->abikjl", words, _PAULIS).reshape(len(words) * 4, d, d)
    return words


# ----------------------------------------------------------------------------------------- native gates
#: Aer's names of the rotations the device emits.
_ROTATIONS = frozenset({"rx", "ry", "rz", "p", "rxx", "ryy", "rzz"})


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
def rotation_form(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(K0, K1, K2)`` with the Pauli transfer matrix of gate ``name`` at angle ``t`` equal to
    ``K0 + cos(t) K1 + sin(t) K2``: ``U (x) conj(U)`` of a rotation has frequencies 0 and 1 in its angle (the
    half angles of ``rx``..``rzz`` pair up; ``p`` has 0 and 1 already)."""
    form = fit_trig(lambda t: ptm([_qiskit_matrix(name, t)]), 1.0)
    if form is None:
        raise AssertionError(f"{name}'s transfer matrix is not K0 + cos(t) K1 + sin(t) K2")
    return form


def is_rotation(name: str) -> bool:
    return name in _ROTATIONS


# ------------------------------------------------------------------------------------------- noise models
def gate_error(model, name: str, qubits: tuple[int, ...]) -> np.ndarray | None:
    """The Pauli transfer matrix (big-endian on the gate's qubits, in the gate's order) of the error ``model``
    puts after gate ``name`` on Qiskit ``qubits``, or None. A local error replaces the all-qubit one, as in
    Aer."""
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
    return _error_ptm(error)


_PTMS: dict = {}


def _error_ptm(error) -> np.ndarray:
    key = id(error)
    if key not in _PTMS or _PTMS[key][0] is not error:
        from qiskit.quantum_info import Kraus

        if len(_PTMS) > 256:
            _PTMS.clear()
        kraus = [big_endian(np.asarray(k)) for k in Kraus(error).data]
        _PTMS[key] = (error, ptm(kraus))
    return _PTMS[key][1]


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
