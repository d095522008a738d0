"""Classical references for the variational solvers: what a quantum answer is judged against.

* exact enumeration of MaxCut / QUBO (bounded size, clear error past it),
* simulated annealing (replicas vectorised with numpy),
* the Goemans-Williamson SDP relaxation of MaxCut with random-hyperplane rounding (cvxpy, the ``solvers``
  extra),
* exact diagonalisation of Hamiltonians (scipy sparse).

Inputs are plain objects: networkx graphs, numpy / scipy matrices. QUBOs minimise :math:`x^T Q x + c` over
:math:`x \\in \\{0,1\\}^n` with a symmetric ``Q``; bit ``i`` of a MaxCut answer is node ``list(graph.nodes)[i]``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qhybrid._extras import require
from qhybrid.classical.validation import check_float, check_int, check_seed

__all__ = [
    "MAX_BRUTE_FORCE_VARIABLES",
    "BinarySolution",
    "EigenSolution",
    "brute_force_maxcut",
    "brute_force_qubo",
    "simulated_annealing_maxcut",
    "simulated_annealing_qubo",
    "goemans_williamson",
    "exact_diagonalization",
    "maxcut_qubo",
]

#: Largest problem brute force enumerates (2**24 ≈ 17 M assignments, seconds with numpy).
MAX_BRUTE_FORCE_VARIABLES = 24
#: Largest matrix dimension exact diagonalisation accepts (2**22, a 22-qubit Hamiltonian).
MAX_DIAGONALIZATION_DIM = 2**22


@dataclass
class BinarySolution:
    """Answer of a classical binary solver.

    Attributes:
        bits: best assignment found (``int8`` array of 0/1).
        value: its objective (cut weight for MaxCut, maximised; ``x^T Q x + c`` for QUBO, minimised).
        method: solver name.
        wall_time: seconds spent.
        evaluations: objective evaluations (assignments scored, flips tried or roundings drawn).
        bound: a proven bound on the optimum where the method gives one (GW: the SDP value, >= max cut).
        extra: method-specific details.
    """

    bits: np.ndarray
    value: float
    method: str
    wall_time: float
    evaluations: int = 0
    bound: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class EigenSolution:
    """Lowest eigenpairs of a Hamiltonian: ``energies`` ascending, ``states`` as columns."""

    energies: np.ndarray
    states: np.ndarray
    wall_time: float

    @property
    def energy(self) -> float:
        """Ground-state energy."""
        return float(self.energies[0])


def _check_graph(
    graph: Any, weight: str | None, allow_negative: bool = False
) -> tuple[int, np.ndarray, np.ndarray]:
    """Validate a MaxCut graph; return (n, edge index pairs (m, 2), weights (m,))."""
    if not isinstance(graph, nx.Graph):
        raise TypeError(f"graph must be a networkx.Graph, got {type(graph).__name__}")
    if graph.is_directed() or graph.is_multigraph():
        raise TypeError(f"graph must be an undirected simple networkx.Graph, got {type(graph).__name__}")
    if graph.number_of_nodes() == 0:
        raise ValueError("graph is empty (no nodes); MaxCut needs at least one edge")
    if graph.number_of_edges() == 0:
        raise ValueError(
            f"graph has {graph.number_of_nodes()} nodes but no edges; MaxCut needs at least one edge"
        )
    if nx.number_of_selfloops(graph):
        raise ValueError("graph has self-loops; a self-loop can never be cut, remove it")
    index = {v: k for k, v in enumerate(graph.nodes)}
    pairs, weights = [], []
    for u, v, data in graph.edges(data=True):
        w = 1.0 if weight is None else data.get(weight, 1.0)
        try:
            w = float(w)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"edge ({u!r}, {v!r}) has non-numeric weight {w!r}") from exc
        if not math.isfinite(w) or (w < 0 and not allow_negative):
            raise ValueError(f"edge ({u!r}, {v!r}) has weight {w}; MaxCut weights must be finite and >= 0")
        pairs.append((index[u], index[v]))
        weights.append(w)
    return graph.number_of_nodes(), np.array(pairs, dtype=np.int64), np.array(weights)


def _check_qubo(matrix: Any, offset: float) -> np.ndarray:
    if sp.issparse(matrix):
        matrix = matrix.toarray()
    try:
        q = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"QUBO matrix must be a square array of real numbers, got {type(matrix).__name__}"
        ) from exc
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] == 0:
        raise ValueError(f"QUBO matrix must be square (n, n) with n >= 1, got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("QUBO matrix contains NaN or infinite entries; all entries must be finite")
    if not np.allclose(q, q.T, rtol=1e-10, atol=1e-12):
        raise ValueError("QUBO matrix must be symmetric; pass (Q + Q.T) / 2")
    check_float("offset", offset)
    return q


def maxcut_qubo(graph: nx.Graph, weight: str | None = "weight") -> np.ndarray:
    """QUBO matrix ``Q`` with :math:`x^T Q x = -\\mathrm{cut}(x)` (minimising it maximises the cut)."""
    n, pairs, w = _check_graph(graph, weight)
    q = np.zeros((n, n))
    np.add.at(q, (pairs[:, 0], pairs[:, 0]), -w)
    np.add.at(q, (pairs[:, 1], pairs[:, 1]), -w)
    np.add.at(q, (pairs[:, 0], pairs[:, 1]), w)
    np.add.at(q, (pairs[:, 1], pairs[:, 0]), w)
    return q


def _cut_values(bits: np.ndarray, pairs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cut weight of each row of ``bits`` (m, n)."""
    return ((bits[:, pairs[:, 0]] != bits[:, pairs[:, 1]]) * w).sum(axis=1)


def _enumerate_min(n: int, score, chunk_bits: int = 16) -> tuple[np.ndarray, float, int]:
    """Minimise ``score(bits (m, n)) -> (m,)`` over all 2**n assignments, in chunks to bound memory."""
    if n > MAX_BRUTE_FORCE_VARIABLES:
        raise ValueError(
            f"brute force over 2**{n} assignments is too large; at most {MAX_BRUTE_FORCE_VARIABLES} "
            "variables (use simulated annealing or goemans_williamson for larger problems)"
        )
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    chunk = 2 ** min(n, chunk_bits)
    best_val, best_idx = math.inf, 0
    for start in range(0, 2**n, chunk):
        idx = np.arange(start, start + chunk, dtype=np.int64)
        vals = score(((idx[:, None] >> shifts) & 1).astype(np.int8))
        k = int(np.argmin(vals))
        if vals[k] < best_val:
            best_val, best_idx = float(vals[k]), start + k
    bits = ((best_idx >> shifts) & 1).astype(np.int8)
    return bits, best_val, 2**n


def brute_force_maxcut(graph: nx.Graph, weight: str | None = "weight") -> BinarySolution:
    """Exact maximum cut by enumerating all :math:`2^n` bipartitions (at most 24 nodes).

    Example:
        >>> brute_force_maxcut(nx.cycle_graph(5)).value
        4.0
    """
    t0 = time.perf_counter()
    n, pairs, w = _check_graph(graph, weight)
    bits, val, evals = _enumerate_min(n, lambda b: -_cut_values(b, pairs, w))
    return BinarySolution(bits, -val, "brute_force", time.perf_counter() - t0, evals)


def brute_force_qubo(matrix: Any, offset: float = 0.0) -> BinarySolution:
    """Exact minimum of :math:`x^T Q x + c` by enumeration (at most 24 variables)."""
    t0 = time.perf_counter()
    q = _check_qubo(matrix, offset)
    bits, val, evals = _enumerate_min(q.shape[0], lambda b: np.einsum("mi,ij,mj->m", b, q, b.astype(float)))
    return BinarySolution(bits, val + float(offset), "brute_force", time.perf_counter() - t0, evals)


def simulated_annealing_qubo(
    matrix: Any,
    offset: float = 0.0,
    *,
    n_sweeps: int = 500,
    n_replicas: int = 16,
    t_start: float | None = None,
    t_end: float | None = None,
    random_state: int | None = None,
) -> BinarySolution:
    """Minimise :math:`x^T Q x + c` by single-flip Metropolis annealing with a geometric temperature schedule.

    ``n_replicas`` independent chains run side by side (vectorised); the best state ever seen is returned.
    Default temperatures run from the largest single-flip energy change to 1/1000 of the smallest non-zero one.
    """
    t0 = time.perf_counter()
    q = _check_qubo(matrix, offset)
    n_sweeps = check_int("n_sweeps", n_sweeps, 1)
    n_replicas = check_int("n_replicas", n_replicas, 1)
    check_seed("random_state", random_state)
    check_float("t_start", t_start, 0, low_open=True, allow_none=True)
    check_float("t_end", t_end, 0, low_open=True, allow_none=True)
    n = q.shape[0]
    diag = np.diag(q).copy()
    # flipping x_i changes f by d * (Q_ii + 2 * sum_{j != i} Q_ij x_j), d = 1 - 2 x_i
    scale = np.abs(diag) + 2 * (np.abs(q).sum(axis=1) - np.abs(diag))
    nonzero = scale[scale > 0]
    if nonzero.size == 0:
        return BinarySolution(
            np.zeros(n, np.int8), float(offset), "simulated_annealing", time.perf_counter() - t0
        )
    t_hi = float(nonzero.max()) if t_start is None else float(t_start)
    t_lo = float(nonzero.min()) * 1e-3 if t_end is None else float(t_end)
    if not (t_hi > 0 and t_lo > 0 and math.isfinite(t_hi)):
        raise ValueError(f"temperatures must be > 0, got t_start={t_start}, t_end={t_end}")
    temps = np.geomspace(t_hi, t_lo, n_sweeps)
    rng = np.random.default_rng(random_state)
    x = rng.integers(0, 2, size=(n_replicas, n)).astype(float)
    qx = x @ q
    energy = np.einsum("ri,ri->r", x, qx)
    best_e, best_x = energy.min(), x[np.argmin(energy)].copy()
    uniforms = rng.random((n_sweeps, n, n_replicas))
    for s, temp in enumerate(temps):
        for i in range(n):
            d = 1.0 - 2.0 * x[:, i]
            delta = d * (diag[i] + 2.0 * (qx[:, i] - diag[i] * x[:, i]))
            accept = (delta <= 0) | (uniforms[s, i] < np.exp(-np.maximum(delta, 0) / temp))
            if accept.any():
                d = d * accept
                x[:, i] += d
                qx += d[:, None] * q[i]
                energy += delta * accept
        k = int(np.argmin(energy))
        if energy[k] < best_e:
            best_e, best_x = energy[k], x[k].copy()
    return BinarySolution(
        best_x.astype(np.int8),
        float(best_e) + float(offset),
        "simulated_annealing",
        time.perf_counter() - t0,
        evaluations=n_sweeps * n * n_replicas,
    )


def simulated_annealing_maxcut(
    graph: nx.Graph, weight: str | None = "weight", **kwargs: Any
) -> BinarySolution:
    """Maximum cut by :func:`simulated_annealing_qubo` on the MaxCut QUBO; keyword arguments pass through."""
    t0 = time.perf_counter()
    sol = simulated_annealing_qubo(maxcut_qubo(graph, weight), **kwargs)
    _, pairs, w = _check_graph(graph, weight)
    cut = float(_cut_values(sol.bits[None], pairs, w)[0])
    return BinarySolution(sol.bits, cut, sol.method, time.perf_counter() - t0, sol.evaluations)


def goemans_williamson(
    graph: nx.Graph,
    weight: str | None = "weight",
    *,
    n_rounds: int = 100,
    random_state: int | None = None,
    solver: str | None = None,
) -> BinarySolution:
    r"""Goemans-Williamson MaxCut: SDP relaxation and random-hyperplane rounding.

    Solves :math:`\max \sum_{(i,j)} w_{ij}(1 - X_{ij})/2` over :math:`X \succeq 0,\ X_{ii}=1` with cvxpy, factors
    :math:`X = V V^T` and keeps the best of ``n_rounds`` cuts ``sign(V r)``. The expected cut is at least
    0.878 of the optimum (non-negative weights); ``bound`` is the SDP value, an upper bound on the max cut.

    cvxpy is the ``solvers`` extra (``pip install 'qhybrid[solvers]'``); without it this raises ImportError
    naming that extra.
    """
    t0 = time.perf_counter()
    n, pairs, w = _check_graph(graph, weight)
    n_rounds = check_int("n_rounds", n_rounds, 1)
    check_seed("random_state", random_state)
    # imported here: a heavy optional dependency (the `solvers` extra) only this reference needs
    cp = require("cvxpy", "goemans_williamson (the Goemans-Williamson SDP)")
    x = cp.Variable((n, n), symmetric=True)
    objective = cp.Maximize(cp.sum(cp.multiply(w, 1 - x[pairs[:, 0], pairs[:, 1]])) / 2)
    problem = cp.Problem(objective, [x >> 0, cp.diag(x) == 1])
    problem.solve(solver=solver or ("CLARABEL" if "CLARABEL" in cp.installed_solvers() else None))
    if x.value is None:
        raise RuntimeError(f"the GW semidefinite program did not solve (status {problem.status})")
    evals, evecs = np.linalg.eigh((x.value + x.value.T) / 2)
    v = evecs * np.sqrt(np.clip(evals, 0, None))
    rng = np.random.default_rng(random_state)
    bits = (v @ rng.normal(size=(n, n_rounds)) < 0).T.astype(np.int8)
    cuts = _cut_values(bits, pairs, w)
    k = int(np.argmax(cuts))
    return BinarySolution(
        bits[k],
        float(cuts[k]),
        "goemans_williamson",
        time.perf_counter() - t0,
        evaluations=n_rounds,
        bound=float(problem.value),
        extra={"mean_rounded_cut": float(cuts.mean()), "status": problem.status},
    )


def exact_diagonalization(hamiltonian: Any, k: int = 1) -> EigenSolution:
    """The ``k`` lowest eigenpairs of a Hermitian matrix (dense numpy or scipy sparse).

    Small matrices (dimension <= 256) use dense ``eigh``; larger ones Lanczos (``scipy.sparse.linalg.eigsh``).

    Example:
        >>> round(exact_diagonalization(np.diag([3.0, -1.0, 2.0])).energy, 6)
        -1.0
    """
    t0 = time.perf_counter()
    if not (sp.issparse(hamiltonian) or isinstance(hamiltonian, np.ndarray)):
        raise TypeError(
            f"hamiltonian must be a numpy array or scipy sparse matrix, got {type(hamiltonian).__name__}"
        )
    if hamiltonian.ndim != 2 or hamiltonian.shape[0] != hamiltonian.shape[1] or hamiltonian.shape[0] == 0:
        raise ValueError(f"hamiltonian must be a square non-empty matrix, got shape {hamiltonian.shape}")
    dim = hamiltonian.shape[0]
    if dim > MAX_DIAGONALIZATION_DIM:
        raise ValueError(
            f"matrix dimension {dim} is too large; at most {MAX_DIAGONALIZATION_DIM} (22 qubits)"
        )
    k = check_int("k", k, 1, dim)
    data = hamiltonian.data if sp.issparse(hamiltonian) else hamiltonian
    if not np.all(np.isfinite(data)):
        raise ValueError("hamiltonian contains NaN or infinite entries")
    herm_err = abs(hamiltonian - hamiltonian.conj().T)
    herm_err = herm_err.max() if herm_err.size else 0.0
    if herm_err > 1e-8 * max(1.0, abs(data).max()):
        raise ValueError(f"hamiltonian is not Hermitian (max |H - H^dagger| = {herm_err:.3g})")
    if dim <= 256 or k >= dim - 1:
        dense = hamiltonian.toarray() if sp.issparse(hamiltonian) else hamiltonian
        vals, vecs = np.linalg.eigh(dense)
        vals, vecs = vals[:k], vecs[:, :k]
    else:
        vals, vecs = spla.eigsh(sp.csr_matrix(hamiltonian), k=k, which="SA", tol=1e-12)
        order = np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
    return EigenSolution(np.real(vals), vecs, time.perf_counter() - t0)
