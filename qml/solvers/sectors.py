"""Exact ground-state energies of a molecule in its own electron-number and spin sector.

A Jordan-Wigner molecular Hamiltonian acts on every electron number at once: its lowest eigenvalue over the
whole qubit space can belong to another charge (for H3+ it is the neutral H3's, 47 mHa lower). The
reference a VQE is judged against is the lowest energy with the molecule's electron count ``N`` and spin
``S = (multiplicity - 1) / 2``. PennyLane orders spin orbitals alpha, beta, alpha, ... (wire ``2i`` is
orbital ``i`` spin up), so the sector ``N``, ``S_z = S`` is the set of basis states with ``N`` ones, ``S_z``
more of them on even wires; the Hamiltonian conserves both, so it is block diagonal and only that block
(225 states of the 4096 for LiH on 12 qubits) is built, term by term from the Pauli form. Within the block
every state has total spin ``>= S``; adding ``lam (S^2 - S(S+1))``, which is zero on spin ``S`` and at least
``2 lam`` above it, with ``lam`` larger than the norm bound ``sum |c|`` of the Hamiltonian, makes the lowest
eigenvalue that of spin ``S`` exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qp
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qhybrid.qml.engine.pauli import word_masks

#: Up to this many states a block is diagonalised densely; larger ones by Lanczos (``eigsh``).
DENSE_STATES = 2000


def sector_states(n_qubits: int, n_electrons: int, twice_sz: int) -> np.ndarray:
    """Basis-state indices (wire 0 the most significant bit) with ``n_electrons`` ones, ``twice_sz`` more
    of them on even wires (spin up) than on odd wires."""
    k = np.arange(2**n_qubits, dtype=np.int64)
    even = sum(1 << (n_qubits - 1 - w) for w in range(0, n_qubits, 2))
    up = np.bitwise_count(k & even).astype(np.int64)
    total = np.bitwise_count(k).astype(np.int64)
    return k[(total == n_electrons) & (2 * up - total == twice_sz)]


def sector_matrix(op, n_qubits: int, states: np.ndarray) -> sp.csr_matrix:
    """``op`` (any operator with a Pauli form) restricted to ``states``, as a sparse ``(d, d)`` matrix.

    Entries that would leave the sector are dropped: for an operator that conserves it they are zero.
    """
    d = states.size  # states are sorted: a partner's position is a binary search
    rows, cols, vals = [], [], []
    wires = {w: w for w in range(n_qubits)}  # a molecule's wire w is qubit w
    for word, coeff in op.pauli_rep.items():
        x, z, ny = word_masks(word, wires, n_qubits)
        partner = states ^ x  # P|k> = i**ny (-1)**popcount(k & z) |k ^ x>
        position = np.minimum(np.searchsorted(states, partner), d - 1)
        inside = states[position] == partner
        sign = 1.0 - 2.0 * (np.bitwise_count(states[inside] & z) & 1)
        rows.append(position[inside])
        cols.append(np.flatnonzero(inside))
        vals.append(complex(coeff) * 1j**ny * sign)
    return sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(d, d)
    ).tocsr()


def _lowest(m: sp.csr_matrix) -> tuple[float, np.ndarray]:
    if m.shape[0] <= DENSE_STATES:
        values, vectors = np.linalg.eigh(m.toarray())
        return float(values[0]), vectors[:, 0]
    values, vectors = spla.eigsh(m, k=1, which="SA", tol=1e-12)
    return float(values[0]), vectors[:, 0]


def sector_ground_energy(hamiltonian, n_qubits: int, n_electrons: int, multiplicity: int) -> float:
    """The lowest eigenvalue of ``hamiltonian`` with ``n_electrons`` electrons and total spin
    ``(multiplicity - 1) / 2`` (Jordan-Wigner, PennyLane's alpha/beta interleaved spin orbitals)."""
    twice_s = multiplicity - 1
    states = sector_states(n_qubits, n_electrons, twice_s)
    if states.size == 0:
        raise ValueError(
            f"no state has {n_electrons} electrons and multiplicity {multiplicity} on {n_qubits} spin orbitals"
        )
    h = sector_matrix(hamiltonian, n_qubits, states)
    spin2 = sector_matrix(qp.qchem.spin2(n_electrons, n_qubits), n_qubits, states)
    lam = 1.0 + sum(abs(complex(c)) for c in hamiltonian.pauli_rep.values())
    s = twice_s / 2
    _, vector = _lowest(h + lam * (spin2 - s * (s + 1) * sp.identity(states.size, format="csr")))
    energy = float(np.real(np.vdot(vector, h @ vector)))
    spin = float(np.real(np.vdot(vector, spin2 @ vector)))
    if not math.isclose(spin, s * (s + 1), abs_tol=1e-6):  # pragma: no cover - the penalty guarantees it
        raise RuntimeError(f"sector ground state has S^2 = {spin:.6f}, expected {s * (s + 1)}")
    return energy
