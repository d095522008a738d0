"""Hamiltonian problems that VQE minimises: a qubit Hamiltonian with its exact ground-state energy, built for
molecules (``pennylane.qchem``, offline, STO-3G; any charge and multiplicity, the exact energy taken in the
molecule's own electron-number and spin sector, :mod:`.sectors`) and for spin chains (transverse-field Ising,
Heisenberg).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pennylane as qp
import scipy.sparse.linalg as spla

from qhybrid.classical.problems import MAX_DIAGONALISATION_QUBITS, check_diagonalisable
from qhybrid.qml.validation import check_bool, check_float, check_int

from .sectors import sector_ground_energy, sector_matrix


class HamiltonianProblem:
    """A qubit Hamiltonian whose ground-state energy VQE minimises.

    Attributes:
        hamiltonian: the PennyLane operator, on wires ``0..n_qubits-1``.
        n_qubits: number of qubits.
        name: short description.
        hf_state: Hartree-Fock occupation bits for molecules (the reference state of chemistry ansätze), else ``None``.
        n_electrons: active electrons for molecules, else ``None``.
        multiplicity: ``2S + 1`` of the state sought (molecules; 1 by default), else ``None``.
    """

    def __init__(
        self,
        hamiltonian: qp.operation.Operator,
        n_qubits: int,
        name: str = "hamiltonian",
        hf_state: np.ndarray | None = None,
        n_electrons: int | None = None,
        multiplicity: int | None = None,
    ):
        if not isinstance(hamiltonian, qp.operation.Operator):
            raise TypeError(f"hamiltonian must be a PennyLane operator, got {type(hamiltonian).__name__}")
        if int(n_qubits) < 1:
            raise ValueError(f"n_qubits must be >= 1, got {n_qubits}")
        extra = set(hamiltonian.wires) - set(range(n_qubits))
        if extra:
            raise ValueError(f"Hamiltonian acts on wires {sorted(extra)} outside 0..{n_qubits - 1}")
        self.hamiltonian = hamiltonian
        self.n_qubits = int(n_qubits)
        self.name = name
        self.hf_state = None if hf_state is None else np.asarray(hf_state, dtype=int)
        if self.hf_state is not None and (
            self.hf_state.shape != (self.n_qubits,) or not np.all((self.hf_state == 0) | (self.hf_state == 1))
        ):
            raise ValueError(
                f"hf_state must be {self.n_qubits} bits (0 or 1), one per qubit, got {np.asarray(hf_state).tolist()}"
            )
        self.n_electrons = n_electrons
        self.multiplicity = multiplicity if multiplicity is not None or n_electrons is None else 1
        self._exact: float | None = None

    def sparse_matrix(self):
        """The Hamiltonian as a scipy CSR matrix on wires ``0..n-1`` (wire 0 the most significant bit)."""
        check_diagonalisable(2**self.n_qubits)
        return self.hamiltonian.sparse_matrix(wire_order=range(self.n_qubits), format="csr")

    def hf_energy(self) -> float:
        """Energy of the Hartree-Fock state (molecules), read off the Hamiltonian's diagonal."""
        if self.hf_state is None:
            raise ValueError(f"{self.name!r} has no Hartree-Fock state (not a molecule)")
        index = np.array([int("".join(str(int(b)) for b in self.hf_state), 2)])
        return float(sector_matrix(self.hamiltonian, self.n_qubits, index)[0, 0].real)

    def is_diagonalisable(self) -> bool:
        """Whether :meth:`exact_energy` is small enough to compute."""
        return self.n_qubits <= MAX_DIAGONALISATION_QUBITS

    def exact_energy(self) -> float:
        """Exact ground-state energy (at most :data:`MAX_DIAGONALISATION_QUBITS` qubits).

        For a molecule (``n_electrons`` set) the lowest energy with that many electrons and that
        multiplicity, from the Hamiltonian's block of that sector (:mod:`.sectors`); the lowest eigenvalue
        over the whole qubit space could belong to another charge or spin. Otherwise (spin chains) the lowest
        eigenvalue of the whole matrix, by sparse diagonalisation.
        """
        if self._exact is None:
            check_diagonalisable(2**self.n_qubits)
            if self.n_electrons is not None:
                self._exact = sector_ground_energy(
                    self.hamiltonian, self.n_qubits, self.n_electrons, self.multiplicity
                )
                return self._exact
            m = self.sparse_matrix()
            if m.shape[0] <= 64:
                self._exact = float(np.linalg.eigvalsh(m.toarray())[0])
            else:
                self._exact = float(spla.eigsh(m, k=1, which="SA", tol=1e-12)[0][0])
        return self._exact

    def __repr__(self) -> str:
        return f"HamiltonianProblem({self.name!r}, n_qubits={self.n_qubits})"


def molecule(
    symbols: Sequence[str],
    coordinates: Any,
    *,
    charge: int = 0,
    mult: int = 1,
    basis: str = "sto-3g",
    unit: str = "angstrom",
    active_electrons: int | None = None,
    active_orbitals: int | None = None,
    name: str | None = None,
) -> HamiltonianProblem:
    """Electronic Hamiltonian of a molecule (Jordan-Wigner), built offline by PennyLane's own Hartree-Fock.

    Args:
        symbols: atomic symbols, e.g. ``["H", "H"]``.
        coordinates: ``(n_atoms, 3)`` (or flat) positions in ``unit``.
        charge: net charge (``H3+``: 1).
        mult: spin multiplicity ``2S + 1`` of the state sought (1 singlet, 2 doublet, 3 triplet, ...).
        basis: basis set name known to ``pennylane.qchem`` (``"sto-3g"``, ...).
        unit: ``"angstrom"`` or ``"bohr"``.
        active_electrons, active_orbitals: active space (default: all).

    PennyLane's Hartree-Fock is restricted to closed shells, so the orbitals always come from a closed-shell
    calculation: of the molecule itself when its electron count is even, else of its cation (one electron
    fewer). The qubit Hamiltonian holds every electron number and spin; the problem's electron count and
    multiplicity pick the sector its exact energy (:meth:`HamiltonianProblem.exact_energy`) and its
    Hartree-Fock state (the lowest orbitals, the unpaired electrons spin up) come from. Without an active
    space the exact energy does not depend on the orbitals (full CI); with one it is CASCI in them.

    Example:
        >>> p = molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.7414]])
        >>> p.n_qubits, round(p.exact_energy(), 4)
        (4, -1.1373)
    """
    symbols = list(symbols)
    if not symbols or not all(isinstance(s, str) for s in symbols):
        raise ValueError(f"symbols must be a non-empty list of atomic symbols, got {symbols!r}")
    coords = np.asarray(coordinates, dtype=float).reshape(-1)
    if coords.shape[0] != 3 * len(symbols):
        raise ValueError(
            f"coordinates must hold 3 numbers per atom ({3 * len(symbols)}), got {coords.shape[0]}"
        )
    if not np.all(np.isfinite(coords)):
        raise ValueError("coordinates contain NaN or infinite values")
    positions = coords.reshape(-1, 3)
    for i in range(len(positions)):
        for j in range(i + 1, len(positions)):
            if np.linalg.norm(positions[i] - positions[j]) < 1e-6:
                raise ValueError(
                    f"atoms {i} ({symbols[i]}) and {j} ({symbols[j]}) are at the same position {positions[i].tolist()}"
                )
    if unit not in ("angstrom", "bohr"):
        raise ValueError(f"unit must be 'angstrom' or 'bohr', got {unit!r}")
    check_int("charge", charge)
    mult = check_int("mult", mult, 1)
    target = _qchem_molecule(symbols, coords, charge, basis, unit)
    n_e = target.n_electrons
    formula = _formula(symbols) + _charge_suffix(charge)
    if n_e < 1:
        raise ValueError(f"{formula} has no electrons (charge {charge})")
    if (n_e - (mult - 1)) % 2 or mult - 1 > n_e:
        raise ValueError(
            f"{formula} has {n_e} electron{'s' * (n_e != 1)}; multiplicity {mult} needs "
            f"{mult - 1} unpaired electron{'s' * (mult != 2)} and the rest paired (allowed: "
            f"{', '.join(str(m) for m in range(1 + n_e % 2, n_e + 2, 2))})"
        )
    check_active_space(target, active_electrons, active_orbitals)
    electrons = n_e if active_electrons is None else active_electrons
    if mult - 1 > electrons:
        raise ValueError(
            f"multiplicity {mult} needs {mult - 1} unpaired electrons; the active space has {electrons}"
        )
    shift = n_e % 2  # an odd count takes the cation's closed-shell orbitals
    if shift and electrons == 1:
        raise ValueError(
            f"{formula} with {electrons} active electron: its orbitals would come from a closed shell with "
            "none (PennyLane's Hartree-Fock is restricted to closed shells); take a larger active space"
        )
    reference = _qchem_molecule(symbols, coords, charge + shift, basis, unit) if shift else target
    h, n_qubits = qp.qchem.molecular_hamiltonian(
        reference,
        active_electrons=None if active_electrons is None else active_electrons - shift,
        active_orbitals=active_orbitals,
        mapping="jordan_wigner",
    )
    hf = high_spin_occupation(electrons, mult, n_qubits)
    label = name or (formula if mult == 1 else f"{formula} ({_SPIN_NAMES.get(mult, f'multiplicity {mult}')})")
    return HamiltonianProblem(h, n_qubits, name=label, hf_state=hf, n_electrons=electrons, multiplicity=mult)


def _qchem_molecule(symbols, coords, charge: int, basis: str, unit: str):
    try:
        return qp.qchem.Molecule(symbols, coords, charge=charge, basis_name=basis, unit=unit)
    except ValueError as err:  # "Atoms in {'Xx'} are not supported."
        raise ValueError(f"molecule {symbols}: {err}") from None


_SPIN_NAMES = {2: "doublet", 3: "triplet", 4: "quartet", 5: "quintet"}


def _formula(symbols: list[str]) -> str:
    """``["H", "H", "H"]`` -> ``"H3"``, ``["Li", "H"]`` -> ``"LiH"`` (atoms in order of first appearance)."""
    counts: dict[str, int] = {}
    for symbol in symbols:
        counts[symbol] = counts.get(symbol, 0) + 1
    return "".join(s + (str(k) if k > 1 else "") for s, k in counts.items())


def _charge_suffix(charge: int) -> str:
    if charge == 0:
        return ""
    sign = "+" if charge > 0 else "-"
    return f"({abs(charge)}{sign})" if abs(charge) > 1 else sign


def high_spin_occupation(n_electrons: int, mult: int, n_qubits: int) -> np.ndarray:
    """Occupation bits of the lowest determinant with ``mult - 1`` unpaired electrons, all spin up
    (PennyLane's order: wire ``2i`` orbital ``i`` up, ``2i + 1`` down); ``qml.qchem.hf_state`` for a singlet."""
    down = (n_electrons - (mult - 1)) // 2
    up = n_electrons - down
    if up > n_qubits // 2:
        raise ValueError(
            f"{up} spin-up electrons do not fit {n_qubits // 2} orbitals (multiplicity {mult}, "
            f"{n_electrons} electrons)"
        )
    bits = np.zeros(n_qubits, dtype=int)
    bits[0 : 2 * up : 2] = 1
    bits[1 : 2 * down : 2] = 1
    return bits


def check_active_space(mol: Any, active_electrons: int | None, active_orbitals: int | None) -> None:
    """Refuse an active space PennyLane cannot build, before it is built: the frozen core must hold whole
    electron pairs and the active electrons must fit the active orbitals.

    ``mol`` is anything with ``n_electrons`` and ``n_orbitals`` (a ``qml.qchem.Molecule``); ``None`` means
    all electrons / all orbitals, as in :func:`molecule`.
    """
    n_e, n_orb = mol.n_electrons, mol.n_orbitals
    e = check_int("active_electrons", active_electrons, 1, n_e, allow_none=True)
    o = check_int("active_orbitals", active_orbitals, 1, n_orb, allow_none=True)
    e = n_e if e is None else e
    if (n_e - e) % 2:
        raise ValueError(
            f"active_electrons={e} leaves {n_e - e} core electrons of {n_e}; the core must hold whole pairs"
        )
    frozen = (n_e - e) // 2
    if o is not None and (2 * o < e or frozen + o > n_orb):
        raise ValueError(
            f"active space of {e} electrons in {o} orbitals does not fit: {n_e} electrons in {n_orb} "
            f"orbitals, {frozen} frozen; need active_electrons <= 2 * active_orbitals and "
            f"active_orbitals <= {n_orb - frozen}"
        )


def h2(bond_length: float = 0.7414) -> HamiltonianProblem:
    """H2 in STO-3G (4 qubits) at ``bond_length`` angstrom; 0.7414 is the equilibrium."""
    bond_length = check_float("bond_length", bond_length, 0, low_open=True)
    return molecule(["H", "H"], [[0, 0, 0], [0, 0, bond_length]], name=f"H2 ({bond_length:g} A)")


def lih(
    bond_length: float = 1.5949, active_electrons: int = 2, active_orbitals: int = 3
) -> HamiltonianProblem:
    """LiH in STO-3G on 6 qubits by default (2 active electrons in 3 orbitals), not the full 12-qubit one.

    ``bond_length`` is in angstrom (1.5949, the equilibrium). The default active space freezes the Li 1s
    pair and keeps 3 of the 6 spatial orbitals; ``lih(active_electrons=None, active_orbitals=None)`` is
    the full 4-electron, 12-qubit Hamiltonian that references usually quote.
    """
    bond_length = check_float("bond_length", bond_length, 0, low_open=True)
    return molecule(
        ["Li", "H"],
        [[0, 0, 0], [0, 0, bond_length]],
        active_electrons=active_electrons,
        active_orbitals=active_orbitals,
        name=f"LiH ({bond_length:g} A)",
    )


def heh_plus(bond_length: float = 0.774) -> HamiltonianProblem:
    """HeH+ in STO-3G (4 qubits, 2 electrons) at ``bond_length`` angstrom (0.774, about the equilibrium)."""
    bond_length = check_float("bond_length", bond_length, 0, low_open=True)
    return molecule(["He", "H"], [[0, 0, 0], [0, 0, bond_length]], charge=1, name=f"HeH+ ({bond_length:g} A)")


def h3_plus(bond_length: float = 0.874) -> HamiltonianProblem:
    """H3+ in STO-3G (6 qubits, 2 electrons): an equilateral triangle of side ``bond_length`` angstrom (0.874,
    about the equilibrium). Its whole qubit space holds a lower energy, the neutral H3's; the problem's exact
    energy is the two-electron singlet's."""
    d = check_float("bond_length", bond_length, 0, low_open=True)
    coords = [[0, 0, 0], [d, 0, 0], [d / 2, d * np.sqrt(3) / 2, 0]]
    return molecule(["H", "H", "H"], coords, charge=1, name=f"H3+ ({d:g} A)")


def _check_chain(n_sites: int) -> int:
    return check_int("n_sites", n_sites, 2, MAX_DIAGONALISATION_QUBITS + 4)


def _bonds(n: int, periodic: bool) -> list[tuple[int, int]]:
    bonds = [(i, i + 1) for i in range(n - 1)]
    if periodic and n > 2:
        bonds.append((n - 1, 0))
    return bonds


def transverse_field_ising(
    n_sites: int, J: float = 1.0, h: float = 1.0, periodic: bool = False
) -> HamiltonianProblem:
    r"""Transverse-field Ising chain :math:`H = -J\sum_i Z_i Z_{i+1} - h\sum_i X_i`.

    Example:
        >>> round(transverse_field_ising(2, J=1.0, h=0.0).exact_energy(), 6)
        -1.0
    """
    n = _check_chain(n_sites)
    J, h = check_float("J", J), check_float("h", h)
    periodic = check_bool("periodic", periodic)
    coeffs = [-J] * len(_bonds(n, periodic)) + [-h] * n
    ops = [qp.Z(i) @ qp.Z(j) for i, j in _bonds(n, periodic)] + [qp.X(i) for i in range(n)]
    return HamiltonianProblem(qp.Hamiltonian(coeffs, ops), n, name=f"TFIM n={n} J={J:g} h={h:g}")


def heisenberg(
    n_sites: int, J: float | Sequence[float] = 1.0, h: float = 0.0, periodic: bool = False
) -> HamiltonianProblem:
    r"""Heisenberg chain :math:`H = \sum_i (J_x X_iX_{i+1} + J_y Y_iY_{i+1} + J_z Z_iZ_{i+1}) + h\sum_i Z_i`.

    ``J`` is one coupling (XXX model) or three ``(J_x, J_y, J_z)`` (XYZ).
    """
    n = _check_chain(n_sites)
    if not np.isscalar(J) and (not isinstance(J, (Sequence, np.ndarray)) or len(J) != 3):
        raise ValueError(f"J must be one coupling or three (J_x, J_y, J_z), got {J!r}")
    jx, jy, jz = (J, J, J) if np.isscalar(J) else tuple(J)
    jx, jy, jz = (check_float(f"J{axis}", v) for axis, v in zip("xyz", (jx, jy, jz), strict=True))
    h = check_float("h", h)
    periodic = check_bool("periodic", periodic)
    coeffs, ops = [], []
    for i, j in _bonds(n, periodic):
        for c, pauli in ((jx, qp.X), (jy, qp.Y), (jz, qp.Z)):
            if c != 0:
                coeffs.append(c)
                ops.append(pauli(i) @ pauli(j))
    if h != 0:
        coeffs += [h] * n
        ops += [qp.Z(i) for i in range(n)]
    return HamiltonianProblem(qp.Hamiltonian(coeffs, ops), n, name=f"Heisenberg n={n}")
