"""Optimisation problems that variational solvers minimise.

Two families:

* **binary problems** (:class:`QUBO`, :class:`MaxCut`): a cost over bitstrings ``x in {0,1}^n`` and its
  diagonal cost Hamiltonian for QAOA. Bit ``i`` is wire ``i``; bit 1 is the state ``|1>`` (Z eigenvalue -1).
* **Hamiltonian problems** (:class:`HamiltonianProblem`): a qubit Hamiltonian whose ground-state energy VQE
  estimates, built for molecules (through ``pennylane.qchem``, offline, STO-3G) and for spin chains.

Every problem reports its exact optimum when it is small enough to enumerate or diagonalise. Graphs and
QUBO matrices are checked, and the limits :data:`MAX_ENUMERATION_QUBITS` and
:data:`MAX_DIAGONALISATION_QUBITS` set, in :mod:`classical.problems`, which the classical references of
``classical.solvers`` share: an input one side refuses, the other refuses with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pennylane as qp
import scipy.sparse.linalg as spla

from qhybrid.classical.problems import (
    MAX_DIAGONALISATION_QUBITS,
    MAX_ENUMERATION_QUBITS,
    check_diagonalisable,
    check_graph,
    check_qubo,
    enumerate_qubo,
    qubo_energies,
    qubo_energy,
)
from qhybrid.qml.validation import check_bool, check_float, check_int

from .sectors import sector_ground_energy, sector_matrix


class QUBO:
    r"""Quadratic unconstrained binary optimisation: minimise :math:`f(x) = x^T Q x + c`, :math:`x \in \{0,1\}^n`.

    Args:
        matrix: symmetric real ``(n, n)`` matrix ``Q``, dense or scipy sparse (diagonal entries are the linear terms, since
            :math:`x_i^2 = x_i`), or a dict ``{(i, j): w}`` of terms :math:`w\,x_i x_j` (``(i, i)`` is linear).
        offset: constant ``c``.
        n: number of variables for the dict form (default: largest index + 1).

    The QAOA cost Hamiltonian is the Ising form with :math:`x_i = (1 - Z_i)/2`, so its eigenvalue on a
    computational basis state equals :math:`f` of that bitstring.

    Example:
        >>> q = QUBO({(0, 0): -1.0, (1, 1): -1.0, (0, 1): 2.0})
        >>> q.optimum()
        -1.0
    """

    sense = "min"

    def __init__(
        self, matrix: np.ndarray | Mapping[tuple[int, int], float], offset: float = 0.0, n: int | None = None
    ):
        if isinstance(matrix, Mapping):
            matrix = self._matrix_from_dict(matrix, n)
        elif n is not None and np.shape(matrix)[0] != n:
            raise ValueError(f"n={n} does not match the QUBO matrix size {np.shape(matrix)[0]}")
        self.matrix, self.offset = check_qubo(matrix, offset)
        self._extremes: tuple[float, float, np.ndarray] | None = None

    @staticmethod
    def _matrix_from_dict(terms: Mapping[tuple[int, int], float], n: int | None) -> np.ndarray:
        if not terms:
            raise ValueError("QUBO dict is empty; give at least one term {(i, j): weight}")
        for key in terms:
            if (
                not isinstance(key, tuple)
                or len(key) != 2
                or not all(isinstance(k, (int, np.integer)) and k >= 0 for k in key)
            ):
                raise ValueError(f"QUBO dict keys must be pairs of non-negative ints (i, j), got {key!r}")
        size = max(max(k) for k in terms) + 1
        if n is not None:
            if n < size:
                raise ValueError(f"n={n} is smaller than the largest variable index + 1 ({size})")
            size = n
        q = np.zeros((size, size))
        for (i, j), w in terms.items():
            if i == j:
                q[i, i] += w
            else:  # split the off-diagonal weight so that x^T Q x carries w * x_i x_j once
                q[i, j] += w / 2
                q[j, i] += w / 2
        return q

    @classmethod
    def from_ising(
        cls, h: Sequence[float], J: np.ndarray | Mapping[tuple[int, int], float], offset: float = 0.0
    ) -> QUBO:
        r"""Build from spins :math:`E(s) = \sum_i h_i s_i + \sum_{i<j} J_{ij} s_i s_j + c`, :math:`s_i = 1 - 2x_i`.

        ``J`` is a dict ``{(i, j): J_ij}`` or a dense matrix (symmetric, or strictly upper triangular).
        """
        h = np.atleast_1d(np.asarray(h, dtype=float))
        n = h.shape[0]
        jm = np.zeros((n, n))
        if isinstance(J, Mapping):
            for (i, j), w in J.items():
                if i == j:
                    raise ValueError(
                        f"Ising coupling J{(i, j)} is on the diagonal; s_i^2 = 1 belongs in offset"
                    )
                jm[min(i, j), max(i, j)] += w
        else:
            full = np.asarray(J, dtype=float)
            if full.shape != (n, n):
                raise ValueError(f"J must be ({n}, {n}) to match h, got shape {full.shape}")
            if np.any(np.diag(full) != 0):
                raise ValueError("J has a non-zero diagonal; s_i^2 = 1 belongs in offset")
            if not (np.allclose(full, full.T) or np.all(np.tril(full) == 0)):
                raise ValueError("dense J must be symmetric or strictly upper triangular (each pair once)")
            jm = np.triu(full, 1)
        if not (np.all(np.isfinite(h)) and np.all(np.isfinite(jm))):
            raise ValueError("Ising fields and couplings must be finite (no NaN or inf)")
        # s_i = 1 - 2 x_i:  h_i s_i = h_i - 2 h_i x_i;  J s_i s_j = J (1 - 2x_i - 2x_j + 4 x_i x_j)
        q = np.zeros((n, n))
        q[np.diag_indices(n)] = -2 * h - 2 * (jm.sum(axis=1) + jm.sum(axis=0))
        q += 2 * (jm + jm.T)
        return cls(q, offset=offset + h.sum() + jm.sum())

    @property
    def n_qubits(self) -> int:
        """Number of binary variables (one qubit each)."""
        return self.matrix.shape[0]

    def to_ising(self) -> tuple[np.ndarray, np.ndarray, float]:
        r"""Return ``(h, J, offset)`` with :math:`f(x) = \sum_i h_i z_i + \sum_{i<j} J_{ij} z_i z_j + c`, :math:`z_i = 1 - 2x_i`.

        ``J`` is strictly upper triangular.
        """
        q = self.matrix
        off = q - np.diag(np.diag(q))
        h = -np.diag(q) / 2 - off.sum(axis=1) / 2
        jm = np.triu(off, 1) / 2  # both Q_ij and Q_ji multiply x_i x_j = (1 - z_i - z_j + z_i z_j) / 4
        offset = self.offset + np.trace(q) / 2 + np.triu(off, 1).sum() / 2
        return h, jm, float(offset)

    def cost_hamiltonian(self) -> qp.Hamiltonian:
        """Diagonal Hamiltonian on wires ``0..n-1`` whose eigenvalue on ``|x>`` is :meth:`energy` of ``x``."""
        h, jm, offset = self.to_ising()
        coeffs, ops = [], []
        for i in range(self.n_qubits):
            if h[i] != 0:
                coeffs.append(h[i])
                ops.append(qp.Z(i))
        for i, j in zip(*np.nonzero(jm), strict=True):
            coeffs.append(jm[i, j])
            ops.append(qp.Z(int(i)) @ qp.Z(int(j)))
        if offset != 0 or not ops:
            coeffs.append(offset)
            ops.append(qp.Identity(0))
        return qp.Hamiltonian(coeffs, ops)

    def energy(self, bits: Any) -> np.ndarray | float:
        """Cost ``f(x)`` (minimised) of a bitstring, or of each row of an ``(m, n)`` array of bitstrings."""
        x = np.asarray(bits, dtype=float)
        if x.shape[-1:] != (self.n_qubits,):
            raise ValueError(
                f"bitstrings must have {self.n_qubits} bits in the last axis, got shape {x.shape}"
            )
        if not np.all((x == 0) | (x == 1)):
            raise ValueError("bitstrings must contain only 0 and 1")
        return qubo_energy(self.matrix, x) + self.offset

    def energies(self) -> np.ndarray:
        """:meth:`energy` of all 2**n bitstrings, bitstring ``k`` having wire 0 as its most significant bit
        (the order of ``qml.probs``); at most :data:`MAX_ENUMERATION_QUBITS` variables, 8 bytes each."""
        return qubo_energies(self.matrix, self.offset)

    def value(self, bits: Any) -> np.ndarray | float:
        """The problem's own objective; for a QUBO the same as :meth:`energy`."""
        return self.energy(bits)

    def _enumerate(self) -> tuple[float, float, np.ndarray]:
        """(min energy, max energy, one minimising bitstring), by enumeration of all 2**n bitstrings."""
        if self._extremes is None:
            e = enumerate_qubo(self.matrix, self.offset)
            self._extremes = (e.min_energy, e.max_energy, e.best_bits)
        return self._extremes

    def optimum(self) -> float:
        """Exact optimal objective (by enumeration; at most :data:`MAX_ENUMERATION_QUBITS` variables)."""
        return self._enumerate()[0] if self.sense == "min" else -self._enumerate()[0]

    def optimal_bitstring(self) -> np.ndarray:
        """One optimal bitstring (by enumeration)."""
        return self._enumerate()[2].copy()

    def is_enumerable(self) -> bool:
        """Whether :meth:`optimum` is small enough to compute."""
        return self.n_qubits <= MAX_ENUMERATION_QUBITS

    def approximation_ratio(self, energy: float) -> float:
        r"""Where ``energy`` lies between the worst and the best bitstring: :math:`(E_{max} - E)/(E_{max} - E_{min})`.

        1 is optimal, 0 is the worst assignment. For MaxCut with non-negative weights this is cut / max cut.
        """
        emin, emax, _ = self._enumerate()
        if emax == emin:
            return 1.0
        return float((emax - energy) / (emax - emin))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_qubits={self.n_qubits})"


class MaxCut(QUBO):
    r"""Weighted MaxCut on an undirected graph: maximise :math:`C(x) = \sum_{(i,j)\in E} w_{ij}[x_i \ne x_j]`.

    Args:
        graph: a ``networkx.Graph``, an edge list of ``(u, v)`` / ``(u, v, weight)`` items or a symmetric
            weight matrix, with at least one edge and no self-loops (:func:`classical.problems.check_graph`).
        weight: edge attribute holding the weight of a networkx graph (missing attributes count 1), or
            ``None`` for unweighted.

    Bit ``i`` is node ``nodes[i]`` (the graph's node order, or first appearance in an edge list). The cost Hamiltonian is
    :math:`H = \sum_{(i,j)} w_{ij} (Z_i Z_j - 1)/2`, whose eigenvalue is :math:`-C(x)`, so minimising the
    energy maximises the cut. Weights must be finite and non-negative (use :class:`QUBO` for signed problems).

    Example:
        >>> import networkx as nx
        >>> MaxCut(nx.cycle_graph(4)).optimum()
        4.0
    """

    sense = "max"

    def __init__(self, graph: Any, weight: str | None = "weight"):
        checked = check_graph(graph, weight)
        self.graph = graph
        self.nodes = list(checked.nodes)
        #: ``(i, j, w)`` over node indices, in the graph's edge order.
        self.edges = [
            (int(i), int(j), float(w)) for (i, j), w in zip(checked.edges, checked.weights, strict=True)
        ]
        super().__init__(checked.qubo_matrix())
        self.weight = weight

    def cut_value(self, bits: Any) -> np.ndarray | float:
        """Total weight of the edges cut by a bitstring (or by each row of an array of them)."""
        return -self.energy(bits)

    def value(self, bits: Any) -> np.ndarray | float:
        """The cut value, the objective MaxCut maximises."""
        return self.cut_value(bits)

    def cost_hamiltonian(self) -> qp.Hamiltonian:
        """:math:`\\sum w_{ij}(Z_iZ_j - 1)/2` on wires ``0..n-1``."""
        coeffs = [w / 2 for _, _, w in self.edges] + [-sum(w for _, _, w in self.edges) / 2]
        ops = [qp.Z(i) @ qp.Z(j) for i, j, _ in self.edges] + [qp.Identity(0)]
        return qp.Hamiltonian(coeffs, ops)

    def __repr__(self) -> str:
        return f"MaxCut(nodes={self.n_qubits}, edges={len(self.edges)})"


# ---------------------------------------------------------------------------------------------------------
# Hamiltonian problems (VQE)


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
