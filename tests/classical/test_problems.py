"""classical.problems: the graph and QUBO checks, the size limits and the chunked enumeration both solver
sides share."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from qhybrid.classical.problems import (
    MAX_DIAGONALISATION_QUBITS,
    MAX_ENUMERATION_QUBITS,
    check_diagonalisable,
    check_enumerable,
    check_graph,
    check_qubo,
    enumerate_qubo,
    qubo_energies,
    qubo_energy,
)


def _all_bits(n):
    idx = np.arange(2**n)
    return (idx[:, None] >> np.arange(n - 1, -1, -1)) & 1


def test_the_three_graph_forms_agree():
    g = nx.Graph()
    g.add_edge("b", "a", weight=2.5)
    g.add_edge("a", "c", weight=1.0)
    g.add_node("d")  # isolated: a node of the graph and of the matrix, absent from an edge list
    from_nx = check_graph(g)
    assert from_nx.nodes == ("b", "a", "c", "d")
    assert from_nx.edges.tolist() == [[0, 1], [1, 2]] and from_nx.weights.tolist() == [2.5, 1.0]
    w = from_nx.weight_matrix()
    np.testing.assert_array_equal(w, [[0, 2.5, 0, 0], [2.5, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    from_matrix = check_graph(w)
    assert from_matrix.nodes == (0, 1, 2, 3)
    np.testing.assert_array_equal(from_matrix.qubo_matrix(), from_nx.qubo_matrix())
    np.testing.assert_array_equal(check_graph(sp.csr_matrix(w)).qubo_matrix(), from_nx.qubo_matrix())
    from_list = check_graph([("b", "a", 2.5), ("a", "c", 1.0)])
    assert from_list.nodes == ("b", "a", "c")
    np.testing.assert_array_equal(from_list.qubo_matrix(), from_nx.qubo_matrix()[:3, :3])
    bits = _all_bits(3)
    cuts = from_list.cut_values(bits)
    np.testing.assert_allclose(-qubo_energy(from_list.qubo_matrix(), bits), cuts, atol=1e-12)
    assert cuts.max() == 3.5


@pytest.mark.parametrize(
    "graph",
    [
        nx.Graph([(0, 1, {"weight": 3.0}), (1, 2)]),
        [(0, 1, 3.0), (1, 2)],
        np.array([[0, 3, 0], [3, 0, 1], [0, 1, 0]]),
    ],
    ids=["networkx", "edge list", "matrix"],
)
def test_weight_none_is_an_unweighted_cut_in_every_form(graph):
    assert check_graph(graph).weights.tolist() == [3.0, 1.0]
    assert check_graph(graph, weight=None).weights.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("n", [1, 3, 16, 18])
def test_enumeration_matches_every_assignment(n):
    # n = 18 puts two bits in the chunk index: the chunked sum must equal the full quadratic form
    a = np.random.default_rng(n).normal(size=(n, n))
    q = (a + a.T) / 2
    x = _all_bits(n).astype(float)
    ref = np.einsum("mi,ij,mj->m", x, q, x) + 0.25
    np.testing.assert_allclose(qubo_energies(q, 0.25), ref, atol=1e-10)
    e = enumerate_qubo(q, offset=0.25)
    np.testing.assert_array_equal(e.best_bits, _all_bits(n)[np.argmin(ref)])
    assert e.min_energy == pytest.approx(ref.min(), abs=1e-12)
    assert e.max_energy == pytest.approx(ref.max(), abs=1e-12)
    assert e.evaluations == 2**n


def test_enumeration_reaches_the_limit():
    n = MAX_ENUMERATION_QUBITS
    # diagonal: bit i set lowers the cost iff Q_ii < 0, so the optimum is exactly the bits with Q_ii < 0
    q = np.diag(np.where(np.arange(n) % 3 == 0, -1.0, 0.5))
    e = enumerate_qubo(q)
    np.testing.assert_array_equal(e.best_bits, (np.arange(n) % 3 == 0).astype(np.int8))
    assert e.min_energy == -8.0 and e.max_energy == 8.0
    assert check_enumerable(n) is None


def test_limits_name_the_size_and_the_allowed_range():
    assert (MAX_ENUMERATION_QUBITS, MAX_DIAGONALISATION_QUBITS) == (24, 20)
    with pytest.raises(ValueError) as err:
        check_enumerable(25)
    assert str(err.value) == (
        "exact enumeration of 25 variables (2**25 assignments) is too large: at most 24 variables "
        "(use simulated annealing or Goemans-Williamson for larger problems)"
    )
    check_diagonalisable(2**20)
    with pytest.raises(ValueError) as err:
        check_diagonalisable(2**22)
    assert str(err.value) == (
        "exact diagonalisation of a matrix of dimension 4194304 (22 qubits) is too large: at most "
        "2**20 = 1048576 (a 20-qubit Hamiltonian)"
    )
    with pytest.raises(ValueError, match=r"^exact diagonalisation of a matrix of dimension 1048577 is too"):
        check_diagonalisable(2**20 + 1)


def test_check_qubo_returns_a_float_copy_and_the_offset():
    given = [[1, 2], [2, 3]]
    q, c = check_qubo(sp.csr_matrix(given), offset=np.float64(0.5))
    assert q.dtype == float and q.tolist() == [[1.0, 2.0], [2.0, 3.0]] and c == 0.5
    a = np.eye(2)
    q, _ = check_qubo(a)
    q[0, 0] = 7.0
    assert a[0, 0] == 1.0


@pytest.mark.parametrize(
    "graph, exc, message",
    [
        (nx.Graph(), ValueError, "graph is empty (no nodes); MaxCut needs at least one edge"),
        ([], ValueError, "graph is empty (no nodes); MaxCut needs at least one edge"),
        (np.zeros((3, 3)), ValueError, "graph has 3 nodes but no edges; MaxCut needs at least one edge"),
        (
            [(0, 1), (1, 1), ("x", "x")],
            ValueError,
            "graph has self-loops [(1, 1), ('x', 'x')]; a self-loop can never be cut, remove it",
        ),
        (
            np.array([[1.0, 1.0], [1.0, 0.0]]),
            ValueError,
            "graph has self-loops [(0, 0)]; a self-loop can never be cut, remove it",
        ),
        ([(0, 1), (1, 0)], ValueError, "edge (1, 0) is listed twice; give each edge once"),
        (
            [(0, 1, 2, 3)],
            ValueError,
            "edge 0 of the edge list is (0, 1, 2, 3); each edge is (u, v) or (u, v, weight)",
        ),
        (["ab"], ValueError, "edge 0 of the edge list is 'ab'; each edge is (u, v) or (u, v, weight)"),
        ([([0], 1)], TypeError, "edge 0 ([0], 1): node labels must be hashable"),
        (
            [(0, 1, -1.0)],
            ValueError,
            "edge (0, 1) has weight -1.0; MaxCut weights must be finite and >= 0 (use a QUBO for signed problems)",
        ),
        (
            np.array([[0.0, np.inf], [np.inf, 0.0]]),
            ValueError,
            "edge (0, 1) has weight inf; MaxCut weights must be finite and >= 0 (use a QUBO for signed problems)",
        ),
        ([(0, 1, "heavy")], TypeError, "edge (0, 1) has non-numeric weight 'heavy'"),
        (
            np.array([[0.0, 1.0], [2.0, 0.0]]),
            ValueError,
            "a weight matrix must be symmetric, but W[0, 1]=1.0 != W[1, 0]=2.0",
        ),
        (
            np.ones((4, 2)),
            ValueError,
            "a weight matrix must be square (n, n), got shape (4, 2) (an edge list is a list of (u, v) or "
            "(u, v, weight) tuples)",
        ),
        (
            np.array([["a", "b"], ["c", "d"]]),
            TypeError,
            "a weight matrix must hold real numbers, got dtype <U1",
        ),
        (
            nx.MultiGraph([(0, 1)]),
            TypeError,
            "graph must be an undirected simple networkx.Graph, got MultiGraph",
        ),
        (
            "0 1",
            TypeError,
            "graph must be a networkx.Graph, an edge list [(u, v) or (u, v, weight), ...] or a square weight "
            "matrix (numpy or scipy sparse), got str",
        ),
    ],
)
def test_bad_graphs_are_refused_by_name(graph, exc, message):
    with pytest.raises(exc) as err:
        check_graph(graph)
    assert type(err.value) is exc and str(err.value) == message


@pytest.mark.parametrize(
    "matrix, offset, exc, message",
    [
        (np.ones((2, 3)), 0.0, ValueError, "QUBO matrix must be square (n, n), got shape (2, 3)"),
        (np.zeros((0, 0)), 0.0, ValueError, "QUBO matrix is empty; a problem needs at least one variable"),
        (
            [[0.0, 1.0], [1.0, np.nan]],
            0.0,
            ValueError,
            "QUBO matrix contains NaN or infinite entries (Q[1, 1]=nan); all entries must be finite",
        ),
        (
            [[0.0, 1.0], [3.0, 0.0]],
            0.0,
            ValueError,
            "QUBO matrix must be symmetric, but Q[0, 1]=1.0 != Q[1, 0]=3.0; pass (Q + Q.T) / 2",
        ),
        ([[1j]], 0.0, TypeError, "QUBO matrix must be real, got complex list"),
        ([[1.0], [1.0, 2.0]], 0.0, TypeError, "QUBO matrix must be a square array of real numbers, got list"),
        (np.eye(2), float("inf"), ValueError, "offset must be a finite number, got inf"),
        (np.eye(2), "1", TypeError, "offset must be a finite number, got str '1'"),
    ],
)
def test_bad_qubos_are_refused_by_name(matrix, offset, exc, message):
    with pytest.raises(exc) as err:
        check_qubo(matrix, offset)
    assert str(err.value) == message
