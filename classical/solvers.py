"""Classical references for the variational solvers: what a quantum answer is judged against.

* exact enumeration of MaxCut / QUBO (at most :data:`MAX_ENUMERATION_QUBITS` variables, clear error past it),
* simulated annealing (replicas vectorised with numpy),
* the Goemans-Williamson SDP relaxation of MaxCut with random-hyperplane rounding (cvxpy, the ``solvers``
  extra),
* exact diagonalisation of Hamiltonians (scipy sparse; at most :data:`MAX_DIAGONALISATION_QUBITS` qubits).

Inputs are plain objects: a MaxCut graph is a networkx graph, an edge list or a weight matrix; a QUBO or a
Hamiltonian is a numpy / scipy matrix. QUBOs minimise :math:`x^T Q x + c` over :math:`x \\in \\{0,1\\}^n`
with a symmetric ``Q``; bit ``i`` of a MaxCut answer is node ``i`` of :func:`classical.problems.check_graph`
(``list(graph.nodes)[i]`` for a networkx graph). Inputs are checked, and the limits set, in
:mod:`classical.problems`, which ``qml.solvers`` shares.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qhybrid._extras import require
from qhybrid.classical.problems import (
    MAX_DIAGONALISATION_QUBITS,
    MAX_ENUMERATION_QUBITS,
    check_diagonalisable,
    check_graph,
    check_qubo,
    enumerate_qubo,
)
from qhybrid.classical.validation import check_float, check_int, check_seed

__all__ = [
    "MAX_DIAGONALISATION_QUBITS",
    "MAX_ENUMERATION_QUBITS",
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


def maxcut_qubo(graph: Any, weight: str | None = "weight") -> np.ndarray:
    """QUBO matrix ``Q`` with :math:`x^T Q x = -\\mathrm{cut}(x)` (minimising it maximises the cut)."""
    return check_graph(graph, weight).qubo_matrix()


def brute_force_maxcut(graph: Any, weight: str | None = "weight") -> BinarySolution:
    """Exact maximum cut by enumerating all :math:`2^n` bipartitions (at most :data:`MAX_ENUMERATION_QUBITS`
    nodes). ``graph`` is a networkx graph, an edge list or a weight matrix (:func:`classical.problems.check_graph`).

    Example:
        >>> import networkx as nx
        >>> brute_force_maxcut(nx.cycle_graph(5)).value
        4.0
        >>> brute_force_maxcut([(0, 1, 2.0), (1, 2, 1.0)]).value
        3.0
    """
    t0 = time.perf_counter()
    g = check_graph(graph, weight)
    e = enumerate_qubo(g.qubo_matrix())
    cut = float(g.cut_values(e.best_bits[None])[0])  # summed edge by edge, not read off -x^T Q x
    return BinarySolution(e.best_bits, cut, "brute_force", time.perf_counter() - t0, e.evaluations)


def brute_force_qubo(matrix: Any, offset: float = 0.0) -> BinarySolution:
    """Exact minimum of :math:`x^T Q x + c` by enumeration (at most :data:`MAX_ENUMERATION_QUBITS` variables)."""
    t0 = time.perf_counter()
    e = enumerate_qubo(matrix, offset)
    return BinarySolution(e.best_bits, e.min_energy, "brute_force", time.perf_counter() - t0, e.evaluations)


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
    q, offset = check_qubo(matrix, offset)
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


def simulated_annealing_maxcut(graph: Any, weight: str | None = "weight", **kwargs: Any) -> BinarySolution:
    """Maximum cut by :func:`simulated_annealing_qubo` on the MaxCut QUBO; keyword arguments pass through."""
    t0 = time.perf_counter()
    g = check_graph(graph, weight)
    sol = simulated_annealing_qubo(g.qubo_matrix(), **kwargs)
    cut = float(g.cut_values(sol.bits[None])[0])
    return BinarySolution(sol.bits, cut, sol.method, time.perf_counter() - t0, sol.evaluations)


def goemans_williamson(
    graph: Any,
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
    g = check_graph(graph, weight)
    n, pairs, w = g.n_nodes, g.edges, g.weights
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
    cuts = g.cut_values(bits)
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
    """The ``k`` lowest eigenpairs of a Hermitian matrix (dense numpy or scipy sparse), of dimension at most
    ``2**MAX_DIAGONALISATION_QUBITS``.

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
    check_diagonalisable(dim)
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
