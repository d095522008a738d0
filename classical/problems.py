"""Optimisation problems as plain arrays: the one set of checks, size limits and exact enumeration that
both solver sides use.

``classical.solvers`` (brute force, simulated annealing, Goemans-Williamson, exact diagonalisation) and
``qml.solvers`` (``MaxCut``, ``QUBO``, ``HamiltonianProblem``) validate their input here, so an input one
side refuses the other refuses too, with the same message, and one limit bounds each exact method.

* :func:`check_graph`: a MaxCut graph (a ``networkx.Graph``, an edge list or a weight matrix) as a
  :class:`WeightedGraph` on nodes ``0..n-1``: weights finite and >= 0, no self-loops, at least one edge.
* :func:`check_qubo`: a QUBO matrix (square, finite, symmetric) and its offset.
* :func:`check_enumerable`, :func:`check_diagonalisable`: the limits :data:`MAX_ENUMERATION_QUBITS` and
  :data:`MAX_DIAGONALISATION_QUBITS`.
* :func:`enumerate_qubo`, :func:`qubo_energies`: the exact optimum / every energy of a QUBO, in chunks of
  ``2**16`` assignments, so that memory stays bounded (about 10 MB) whatever ``n``.

A QUBO minimises :math:`f(x) = x^T Q x + c` over :math:`x \\in \\{0,1\\}^n`. Assignment ``k`` of an
enumeration has bit ``i`` equal to ``(k >> (n - 1 - i)) & 1`` (bit 0 the most significant, PennyLane's
``probs`` order).

Example:
    >>> g = check_graph([("a", "b", 2.0), ("b", "c")])
    >>> g.nodes, g.edges.tolist(), g.weights.tolist()
    (('a', 'b', 'c'), [[0, 1], [1, 2]], [2.0, 1.0])
    >>> enumerate_qubo(g.qubo_matrix()).min_energy  # minus the max cut
    -3.0
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from qhybrid.classical.validation import ArgumentTypeError, check_float

__all__ = [
    "MAX_DIAGONALISATION_QUBITS",
    "MAX_ENUMERATION_QUBITS",
    "Enumeration",
    "WeightedGraph",
    "check_diagonalisable",
    "check_enumerable",
    "check_graph",
    "check_qubo",
    "enumerate_qubo",
    "qubo_energy",
    "qubo_energies",
]

#: Most variables whose 2**n assignments are enumerated for an exact optimum. Enumeration runs in chunks
#: (memory bounded): the optimum of a dense 24-variable QUBO takes 0.3 s on one core, and
#: :func:`qubo_energies` holds 128 MiB of energies.
MAX_ENUMERATION_QUBITS = 24
#: Most qubits of a Hamiltonian diagonalised exactly (a 2**20 matrix). A 20-site Ising chain takes about
#: 40 s and 2.5 GiB (building the sparse matrix, then Lanczos); 22 sites took 220 s and 6.2 GiB.
MAX_DIAGONALISATION_QUBITS = 20

_CHUNK_BITS = 16  # assignments are scored 2**16 at a time

_GRAPH_FORMS = (
    "a networkx.Graph, an edge list [(u, v) or (u, v, weight), ...] or a square weight matrix "
    "(numpy or scipy sparse)"
)


@dataclass(frozen=True)
class WeightedGraph:
    """A checked MaxCut graph on nodes ``0..n-1``.

    Attributes:
        nodes: the original node labels; bit ``i`` of a cut is node ``nodes[i]``.
        edges: ``(m, 2)`` int64 node indices, one row per edge, in the input's edge order.
        weights: ``(m,)`` finite weights >= 0.
    """

    nodes: tuple
    edges: np.ndarray
    weights: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def weight_matrix(self) -> np.ndarray:
        """The symmetric ``(n, n)`` weight matrix (zero diagonal); :func:`check_graph` accepts it back."""
        w = np.zeros((self.n_nodes, self.n_nodes))
        np.add.at(w, (self.edges[:, 0], self.edges[:, 1]), self.weights)
        return w + w.T

    def qubo_matrix(self) -> np.ndarray:
        r"""QUBO matrix ``Q`` with :math:`x^T Q x = -\mathrm{cut}(x)`: minimising it maximises the cut."""
        w = self.weight_matrix()
        return w - np.diag(w.sum(axis=1))  # -cut(x) = sum_(i,j) w_ij (2 x_i x_j - x_i - x_j)

    def cut_values(self, bits: np.ndarray) -> np.ndarray:
        """Cut weight of each row of ``bits`` ``(m, n)``."""
        return ((bits[:, self.edges[:, 0]] != bits[:, self.edges[:, 1]]) * self.weights).sum(axis=1)


def check_graph(graph: Any, weight: str | None = "weight") -> WeightedGraph:
    """Validate a MaxCut graph and relabel its nodes ``0..n-1``.

    Args:
        graph: an undirected simple ``networkx.Graph`` (bit ``i`` is ``list(graph.nodes)[i]``); an edge list
            of ``(u, v)`` or ``(u, v, weight)`` items (nodes in order of first appearance, each edge once); or
            a symmetric ``(n, n)`` weight matrix with zero diagonal (node ``i`` is row ``i``, an edge is a
            non-zero entry).
        weight: the edge attribute holding the weight of a networkx graph (missing attributes count 1), or
            ``None`` for an unweighted cut: every edge weighs 1, whatever the input says.

    Raises:
        TypeError: another kind of object, a directed or multi-graph, a non-numeric weight.
        ValueError: no nodes, no edges, a self-loop, an edge listed twice, a weight that is negative or not
            finite, a matrix that is not square or not symmetric.
    """
    if isinstance(graph, nx.Graph):
        if graph.is_directed() or graph.is_multigraph():
            raise TypeError(f"graph must be an undirected simple networkx.Graph, got {type(graph).__name__}")
        edges = [(u, v, 1.0 if weight is None else d.get(weight, 1.0)) for u, v, d in graph.edges(data=True)]
        return _checked(list(graph.nodes), edges)
    if isinstance(graph, np.ndarray) or sp.issparse(graph):
        return _from_matrix(graph, weight)
    if isinstance(graph, Sequence) and not isinstance(graph, (str, bytes)):
        return _from_edge_list(graph, weight)
    raise TypeError(f"graph must be {_GRAPH_FORMS}, got {type(graph).__name__}")


def _edge_weight(u: Any, v: Any, w: Any) -> float:
    try:
        w = float(w)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"edge ({u!r}, {v!r}) has non-numeric weight {w!r}") from exc
    if not math.isfinite(w) or w < 0:
        raise ValueError(
            f"edge ({u!r}, {v!r}) has weight {w}; MaxCut weights must be finite and >= 0 "
            "(use a QUBO for signed problems)"
        )
    return w


def _checked(nodes: list, edges: list[tuple[Any, Any, Any]]) -> WeightedGraph:
    """The checks every form shares, on original labels: nodes, edges, self-loops, then each weight."""
    if not nodes:
        raise ValueError("graph is empty (no nodes); MaxCut needs at least one edge")
    if not edges:
        raise ValueError(f"graph has {len(nodes)} nodes but no edges; MaxCut needs at least one edge")
    loops = [(u, v) for u, v, _ in edges if u == v]
    if loops:
        raise ValueError(f"graph has self-loops {loops[:3]}; a self-loop can never be cut, remove it")
    index = {v: k for k, v in enumerate(nodes)}
    weights = [_edge_weight(u, v, w) for u, v, w in edges]
    pairs = np.array([(index[u], index[v]) for u, v, _ in edges], dtype=np.int64)
    return WeightedGraph(tuple(nodes), pairs, np.array(weights, dtype=float))


def _from_edge_list(items: Sequence, weight: str | None) -> WeightedGraph:
    nodes: dict[Any, None] = {}
    seen: set[frozenset] = set()
    edges = []
    for k, item in enumerate(items):
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) not in (2, 3):
            raise ValueError(f"edge {k} of the edge list is {item!r}; each edge is (u, v) or (u, v, weight)")
        u, v = item[0], item[1]
        try:
            key = frozenset((u, v))
        except TypeError:
            raise TypeError(f"edge {k} ({u!r}, {v!r}): node labels must be hashable") from None
        if key in seen:
            raise ValueError(f"edge ({u!r}, {v!r}) is listed twice; give each edge once")
        seen.add(key)
        nodes.setdefault(u)
        nodes.setdefault(v)
        edges.append((u, v, item[2] if len(item) == 3 and weight is not None else 1.0))
    return _checked(list(nodes), edges)


def _from_matrix(matrix: Any, weight: str | None) -> WeightedGraph:
    a = matrix.toarray() if sp.issparse(matrix) else matrix
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"a weight matrix must be square (n, n), got shape {a.shape} (an edge list is a list of (u, v) "
            "or (u, v, weight) tuples)"
        )
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise TypeError(f"a weight matrix must hold real numbers, got dtype {a.dtype}")
    a = a.astype(float)
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        i, j = bad[0]
        _edge_weight(int(i), int(j), a[i, j])  # raises, naming the edge
    if not np.allclose(a, a.T, rtol=1e-10, atol=1e-12):
        i, j = np.argwhere(~np.isclose(a, a.T, rtol=1e-10, atol=1e-12))[0]
        raise ValueError(
            f"a weight matrix must be symmetric, but W[{i}, {j}]={a[i, j]} != W[{j}, {i}]={a[j, i]}"
        )
    rows, cols = np.nonzero(np.triu(a) != 0)
    edges = [(int(i), int(j), 1.0 if weight is None else a[i, j]) for i, j in zip(rows, cols, strict=True)]
    return _checked(list(range(a.shape[0])), edges)


def check_qubo(matrix: Any, offset: Any = 0.0) -> tuple[np.ndarray, float]:
    """``(Q, c)``: ``matrix`` (array-like or scipy sparse) as a finite, square, symmetric float array, and
    ``offset`` as a finite float.

    Raises:
        TypeError: not an array of real numbers, or a non-numeric offset.
        ValueError: not square, empty, NaN or infinite entries, not symmetric (pass ``(Q + Q.T) / 2``).
    """
    not_real = f"QUBO matrix must be a square array of real numbers, got {type(matrix).__name__}"
    try:
        raw = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    except ValueError as exc:  # ragged nested lists
        raise ArgumentTypeError(not_real) from exc
    if np.iscomplexobj(raw):
        raise ArgumentTypeError(f"QUBO matrix must be real, got complex {type(matrix).__name__}")
    try:
        q = raw.astype(float)  # a copy: the caller's array is never changed through the problem
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(not_real) from exc
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise ValueError(f"QUBO matrix must be square (n, n), got shape {q.shape}")
    if q.shape[0] == 0:
        raise ValueError("QUBO matrix is empty; a problem needs at least one variable")
    bad = np.argwhere(~np.isfinite(q))
    if bad.size:
        i, j = bad[0]
        raise ValueError(
            f"QUBO matrix contains NaN or infinite entries (Q[{i}, {j}]={q[i, j]}); all entries must be finite"
        )
    if not np.allclose(q, q.T, rtol=1e-10, atol=1e-12):
        i, j = np.argwhere(~np.isclose(q, q.T, rtol=1e-10, atol=1e-12))[0]
        raise ValueError(
            f"QUBO matrix must be symmetric, but Q[{i}, {j}]={q[i, j]} != Q[{j}, {i}]={q[j, i]}; "
            "pass (Q + Q.T) / 2"
        )
    return q, check_float("offset", offset)


def check_enumerable(n: int) -> None:
    """Refuse an exact enumeration of more than :data:`MAX_ENUMERATION_QUBITS` variables."""
    if n > MAX_ENUMERATION_QUBITS:
        raise ValueError(
            f"exact enumeration of {n} variables (2**{n} assignments) is too large: at most "
            f"{MAX_ENUMERATION_QUBITS} variables (use simulated annealing or Goemans-Williamson for larger "
            "problems)"
        )


def check_diagonalisable(dim: int) -> None:
    """Refuse exact diagonalisation of a matrix larger than ``2**MAX_DIAGONALISATION_QUBITS``."""
    limit, dim = 2**MAX_DIAGONALISATION_QUBITS, int(dim)
    if dim > limit:
        qubits = f" ({dim.bit_length() - 1} qubits)" if dim & (dim - 1) == 0 else ""
        raise ValueError(
            f"exact diagonalisation of a matrix of dimension {dim}{qubits} is too large: at most "
            f"2**{MAX_DIAGONALISATION_QUBITS} = {limit} (a {MAX_DIAGONALISATION_QUBITS}-qubit Hamiltonian)"
        )


def qubo_energy(q: np.ndarray, bits: Any) -> np.ndarray | float:
    """:math:`x^T Q x` (no offset) of a bitstring, or of each row of an ``(m, n)`` array of them."""
    x = np.asarray(bits, dtype=float)
    e = np.einsum("...i,ij,...j->...", x, q, x)
    return float(e) if e.ndim == 0 else e


def _bitstrings(n: int, start: int = 0, count: int | None = None) -> np.ndarray:
    """Assignments ``start .. start + count - 1`` of ``n`` bits as int8 rows (bit 0 the most significant)."""
    idx = np.arange(start, start + (2**n if count is None else count), dtype=np.int64)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    return ((idx[:, None] >> shifts) & 1).astype(np.int8)


def _energy_chunks(q: np.ndarray) -> Iterator[np.ndarray]:
    """:math:`x^T Q x` of all 2**n assignments in order, ``2**16`` at a time.

    The first ``h`` bits are fixed within a chunk and the last ``l`` run through all values, so a chunk is
    the low part's energies (computed once) plus a linear term: ``O(2**l * l)`` per chunk, not ``O(2**l * n**2)``.
    """
    n = q.shape[0]
    n_low = min(n, _CHUNK_BITS)
    n_high = n - n_low
    low = _bitstrings(n_low).astype(float)
    e_low = np.einsum("mi,ij,mj->m", low, q[n_high:, n_high:], low)
    cross = q[:n_high, n_high:] + q[n_high:, :n_high].T
    for high in _bitstrings(n_high).astype(float):
        yield e_low + low @ (high @ cross) + high @ q[:n_high, :n_high] @ high


@dataclass(frozen=True)
class Enumeration:
    """Extremes of :math:`x^T Q x + c` over all 2**n assignments (:func:`enumerate_qubo`).

    Attributes:
        best_bits: the first minimising assignment (``int8`` 0/1).
        min_energy, max_energy: the smallest and largest objective, offset included.
        evaluations: assignments scored (2**n).
    """

    best_bits: np.ndarray
    min_energy: float
    max_energy: float
    evaluations: int


def enumerate_qubo(matrix: Any, offset: Any = 0.0) -> Enumeration:
    """Exact minimum (and maximum) of :math:`x^T Q x + c` over every assignment, at most
    :data:`MAX_ENUMERATION_QUBITS` variables. The extremes are re-scored by :func:`qubo_energy`, so they
    equal what ``qubo_energy(Q, best_bits) + c`` gives.

    Example:
        >>> e = enumerate_qubo([[-1.0, 1.0], [1.0, -1.0]])
        >>> e.best_bits.tolist(), e.min_energy, e.max_energy
        ([0, 1], -1.0, 0.0)
    """
    q, offset = check_qubo(matrix, offset)
    n = q.shape[0]
    check_enumerable(n)
    chunk = 2 ** min(n, _CHUNK_BITS)
    lo, hi = (math.inf, 0), (-math.inf, 0)
    for c, e in enumerate(_energy_chunks(q)):
        k, m = int(np.argmin(e)), int(np.argmax(e))
        if e[k] < lo[0]:
            lo = (float(e[k]), c * chunk + k)
        if e[m] > hi[0]:
            hi = (float(e[m]), c * chunk + m)
    best, worst = _bitstrings(n, lo[1], 1)[0], _bitstrings(n, hi[1], 1)[0]
    return Enumeration(best, qubo_energy(q, best) + offset, qubo_energy(q, worst) + offset, 2**n)


def qubo_energies(matrix: Any, offset: Any = 0.0) -> np.ndarray:
    """:math:`x^T Q x + c` of all 2**n assignments, in enumeration order (8 bytes each: 128 MiB at 24
    variables), at most :data:`MAX_ENUMERATION_QUBITS` variables."""
    q, offset = check_qubo(matrix, offset)
    n = q.shape[0]
    check_enumerable(n)
    out = np.empty(2**n)
    chunk = 2 ** min(n, _CHUNK_BITS)
    for c, e in enumerate(_energy_chunks(q)):
        out[c * chunk : (c + 1) * chunk] = e
    out += offset
    return out
