"""Measurements that are not Pauli words, read from the final state the way ``default.qubit`` reads them.

The fast paths measure Pauli words (and sums of them) with Aer's own save instructions. Everything else a
PennyLane user can return without shots goes through here:

* observables without a Pauli representation on few wires (``Projector``, ``Hadamard``, ``Hermitian`` and
  products with them) are decomposed into Pauli words from their matrix (:func:`pauli_sentence`), so they
  stay on the fast paths, adjoint gradients included;
* the rest (``SparseHamiltonian``, wide Hermitian products, ``probs(op=...)``, ``density_matrix``,
  ``purity``, ``vn_entropy`` and any custom ``StateMeasurement``) make the compiled circuit save the whole
  final state (the density matrix on the density-matrix method), and PennyLane's own state measurement
  functions read every row of it. The rows still run in one Aer call.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pennylane as qp
from pennylane import measurements as qpm
from pennylane.devices import qubit, qubit_mixed

# Observables without a Pauli representation on at most this many wires are decomposed from their matrix
# into at most 4**4 Pauli words; wider ones are read from the saved state.
MAX_DECOMPOSED_WIRES = 4

_SENTENCES: OrderedDict = OrderedDict()  # decompositions by matrix, for observables re-sent every step
_SENTENCES_MAX = 256


def pauli_sentence(obs):
    """The observable as a Pauli sentence (PennyLane's own, or from its matrix), or ``None`` when it has
    neither a Pauli representation nor a Hermitian matrix on at most :data:`MAX_DECOMPOSED_WIRES` wires."""
    sentence = obs.pauli_rep
    if sentence is not None:
        return sentence
    if len(obs.wires) > MAX_DECOMPOSED_WIRES or not obs.has_matrix:
        return None
    try:
        matrix = np.asarray(qp.math.unwrap(obs.matrix(wire_order=obs.wires)), dtype=complex)
    except (qp.operation.MatrixUndefinedError, TypeError, ValueError):
        return None
    key = (tuple(obs.wires), matrix.shape, matrix.tobytes())
    if key in _SENTENCES:
        _SENTENCES.move_to_end(key)
        return _SENTENCES[key]
    if not np.allclose(matrix, matrix.conj().T):
        return None  # not an observable: default.qubit's reading of it applies
    sentence = qp.pauli_decompose(matrix, wire_order=obs.wires, pauli=True)
    _SENTENCES[key] = sentence
    if len(_SENTENCES) > _SENTENCES_MAX:
        _SENTENCES.popitem(last=False)
    return sentence


def is_general(mp) -> bool:
    """Whether an exact measurement is read from the saved state rather than from Pauli-word saves (those of
    a deferred mid-circuit measurement's value too: PennyLane's measurement functions read them)."""
    if getattr(mp, "mv", None) is not None:
        return True
    if isinstance(mp, qpm.ExpectationMP | qpm.VarianceMP):
        return mp.obs is not None and pauli_sentence(mp.obs) is None
    if isinstance(mp, qpm.ProbabilityMP):
        return mp.obs is not None
    return type(mp) is not qpm.StateMP and isinstance(mp, qpm.StateMeasurement)


def supported_exact(mp) -> bool:
    """Whether the device can return ``mp`` without shots."""
    return isinstance(mp, qpm.StateMeasurement)


def differentiable(mp) -> bool:
    """Whether a measurement is linear in the state (or a variance), so shift rules apply to it."""
    return isinstance(mp, qpm.ExpectationMP | qpm.VarianceMP | qpm.ProbabilityMP)


def read(mapped, state: np.ndarray, n: int, linear: bool = False):
    """A measurement's value on one row's final state (a statevector, or a density matrix on that method).

    ``mapped`` is the measurement on device-index wires (wire ``i`` is axis ``i`` of the state). With
    ``linear`` a variance comes back as ``[<O>, <O^2>]``, as :func:`.exact.row_values` does.
    """
    if state.ndim == 2:
        tensor = state.reshape((2,) * (2 * n))

        def measure(m):
            return qubit_mixed.measure(m, tensor)
    else:
        tensor = state.reshape((2,) * n)

        def measure(m):
            return qubit.measure(m, tensor)

    if linear and isinstance(mapped, qpm.VarianceMP):
        mean = float(np.real(measure(qpm.ExpectationMP(mapped.obs))))
        var = float(np.real(measure(mapped)))
        return np.array([mean, var + mean**2])
    value = measure(mapped)
    if isinstance(mapped, qpm.ExpectationMP | qpm.VarianceMP):
        return np.float64(np.real(value))
    return np.asarray(value) if np.ndim(value) else value
