"""Binary optimisation problems that QAOA minimises (:class:`QUBO`, :class:`MaxCut`): a cost over bitstrings
``x in {0,1}^n`` and its diagonal cost Hamiltonian. Bit ``i`` is wire ``i``; bit 1 is the state ``|1>`` (Z
eigenvalue -1). The Hamiltonian problems of VQE live in :mod:`.hamiltonians`.

Every problem reports its exact optimum when it is small enough to enumerate. Graphs and QUBO matrices are
checked, and the limit :data:`MAX_ENUMERATION_QUBITS` set, in :mod:`classical.problems`, which the classical
references of ``classical.solvers`` share: an input one side refuses, the other refuses with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pennylane as qp

from qhybrid.classical.problems import (
    MAX_ENUMERATION_QUBITS,
    check_graph,
    check_qubo,
    enumerate_qubo,
    qubo_energies,
    qubo_energy,
)


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
