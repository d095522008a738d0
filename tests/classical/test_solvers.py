"""Classical references: exact enumeration, simulated annealing, Goemans-Williamson, exact diagonalisation."""

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graphs import weighted_graph  # tests/graphs.py, on sys.path through tests/conftest.py

from qhybrid.classical.solvers import (
    MAX_ENUMERATION_QUBITS,
    brute_force_maxcut,
    brute_force_qubo,
    exact_diagonalization,
    goemans_williamson,
    maxcut_qubo,
    simulated_annealing_maxcut,
    simulated_annealing_qubo,
)


def _cut(graph, bits, weight="weight"):
    index = {v: k for k, v in enumerate(graph.nodes)}
    return sum(d.get(weight, 1.0) for u, v, d in graph.edges(data=True) if bits[index[u]] != bits[index[v]])


def _weighted_graph(n=7, seed=3):
    return weighted_graph(n, seed, p=0.6)


@pytest.mark.parametrize(
    "graph, expected",
    [
        (nx.cycle_graph(5), 4.0),
        (nx.cycle_graph(6), 6.0),
        (nx.complete_graph(4), 4.0),
        (nx.petersen_graph(), 12.0),
    ],
)
def test_brute_force_maxcut_known_values(graph, expected):
    sol = brute_force_maxcut(graph)
    assert sol.value == expected
    assert _cut(graph, sol.bits) == expected
    assert sol.evaluations == 2 ** graph.number_of_nodes()


def test_brute_force_matches_itertools_on_weighted_graph():
    g = _weighted_graph()
    best = max(_cut(g, bits) for bits in itertools.product([0, 1], repeat=g.number_of_nodes()))
    assert brute_force_maxcut(g).value == pytest.approx(best, abs=1e-12)
    assert brute_force_maxcut(g, weight=None).value == max(
        _cut(g, b, weight="none") for b in itertools.product([0, 1], repeat=7)
    )


def test_brute_force_qubo_matches_enumeration_and_maxcut_qubo():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    q = a + a.T
    vals = [np.array(x) @ q @ np.array(x) for x in itertools.product([0, 1], repeat=6)]
    sol = brute_force_qubo(q, offset=1.5)
    assert sol.value == pytest.approx(min(vals) + 1.5)
    assert sol.bits @ q @ sol.bits + 1.5 == pytest.approx(sol.value)
    g = _weighted_graph()
    assert -brute_force_qubo(maxcut_qubo(g)).value == pytest.approx(brute_force_maxcut(g).value)
    assert brute_force_qubo(sp.csr_matrix(q)).value == pytest.approx(min(vals))


def test_every_solver_takes_an_edge_list_or_a_weight_matrix():
    g = _weighted_graph()
    edges = [(u, v, d["weight"]) for u, v, d in g.edges(data=True)]
    matrix = nx.to_numpy_array(g, nodelist=list(g.nodes))
    best = brute_force_maxcut(g)
    # bit i: node i of the matrix, the i-th node to appear in the edge list (the order nx.Graph(edges) keeps)
    in_edge_order = nx.Graph([(u, v, {"weight": w}) for u, v, w in edges])
    for form, nodes in ((edges, in_edge_order), (matrix, g), (sp.csr_matrix(matrix), g)):
        sol = brute_force_maxcut(form)
        assert sol.value == pytest.approx(best.value, abs=1e-12)
        assert _cut(nodes, sol.bits) == pytest.approx(best.value, abs=1e-12)
    np.testing.assert_allclose(maxcut_qubo(matrix), maxcut_qubo(g), atol=1e-12)
    np.testing.assert_allclose(maxcut_qubo(edges), maxcut_qubo(in_edge_order), atol=1e-12)
    sa = simulated_annealing_maxcut(matrix, random_state=0)
    assert sa.value == pytest.approx(_cut(g, sa.bits), abs=1e-12)
    assert goemans_williamson(edges, random_state=0).value == pytest.approx(
        goemans_williamson(g, random_state=0).value, abs=1e-9
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_simulated_annealing_finds_optimum_on_small_graphs(seed):
    g = nx.random_regular_graph(3, 12, seed=seed)
    sa = simulated_annealing_maxcut(g, random_state=seed)
    assert sa.value == brute_force_maxcut(g).value
    assert _cut(g, sa.bits) == sa.value
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(10, 10))
    q = (a + a.T) / 2
    assert simulated_annealing_qubo(q, random_state=seed).value == pytest.approx(brute_force_qubo(q).value)


def test_simulated_annealing_is_reproducible():
    g = nx.random_regular_graph(3, 16, seed=4)
    a = simulated_annealing_maxcut(g, random_state=7, n_sweeps=20)
    b = simulated_annealing_maxcut(g, random_state=7, n_sweeps=20)
    assert np.array_equal(a.bits, b.bits)


@pytest.mark.parametrize(
    "graph", [nx.random_regular_graph(3, 10, seed=2), _weighted_graph(8, 5), nx.petersen_graph()]
)
def test_goemans_williamson_valid_cut_and_bound(graph):
    opt = brute_force_maxcut(graph).value
    gw = goemans_williamson(graph, random_state=0)
    assert _cut(graph, gw.bits) == pytest.approx(gw.value)
    assert set(np.unique(gw.bits)) <= {0, 1} and gw.bits.shape == (graph.number_of_nodes(),)
    assert 0.878 * opt <= gw.value <= opt + 1e-9
    assert gw.bound >= opt - 1e-4  # the SDP relaxation bounds the max cut from above
    assert gw.extra["mean_rounded_cut"] >= 0.878 * opt - 1e-6


def test_goemans_williamson_sdp_value_of_cycle():
    # C5: the SDP optimum is 5 (1 - cos(4 pi / 5)) / 2 (vectors at angle 4 pi / 5), max cut 4
    gw = goemans_williamson(nx.cycle_graph(5), random_state=0)
    assert gw.bound == pytest.approx(5 * (1 - math.cos(4 * math.pi / 5)) / 2, rel=1e-5)
    assert gw.value == 4.0


def test_exact_diagonalization_dense_and_sparse():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 300)) + 1j * rng.normal(size=(300, 300))
    h = a + a.conj().T
    ref = np.linalg.eigvalsh(h)[:3]
    dense = exact_diagonalization(h, k=3)
    sparse = exact_diagonalization(sp.csr_matrix(h), k=3)
    np.testing.assert_allclose(dense.energies, ref, atol=1e-9)
    np.testing.assert_allclose(sparse.energies, ref, atol=1e-8)
    v = sparse.states[:, 0]
    assert np.linalg.norm(h @ v - ref[0] * v) < 1e-6
    assert exact_diagonalization(np.diag([3.0, -1.0, 2.0])).energy == -1.0


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: brute_force_maxcut(nx.Graph()), ValueError, "empty"),
        (lambda: goemans_williamson(nx.empty_graph(3)), ValueError, "no edges"),
        (lambda: simulated_annealing_maxcut(nx.DiGraph([(0, 1)])), TypeError, "undirected"),
        (lambda: brute_force_maxcut(nx.Graph([(0, 1, {"weight": -1.0})])), ValueError, "finite and >= 0"),
        (lambda: goemans_williamson(nx.Graph([(0, 1, {"weight": float("nan")})])), ValueError, "finite"),
        (lambda: brute_force_maxcut(nx.Graph([(0, 0), (0, 1)])), ValueError, "self-loop"),
        (lambda: brute_force_maxcut({0: [1]}), TypeError, "networkx.Graph, an edge list"),
        (lambda: brute_force_qubo(np.array([[0.0, 1.0], [2.0, 0.0]])), ValueError, "symmetric"),
        (lambda: brute_force_qubo(np.array([[np.nan]])), ValueError, "NaN"),
        (lambda: simulated_annealing_qubo(np.ones((2, 3))), ValueError, "square"),
        (lambda: simulated_annealing_qubo(np.eye(2), n_sweeps=0), ValueError, "n_sweeps"),
        (lambda: brute_force_qubo(np.eye(MAX_ENUMERATION_QUBITS + 1)), ValueError, "at most 24 variables"),
        (lambda: brute_force_maxcut(nx.cycle_graph(30)), ValueError, "too large"),
        (lambda: goemans_williamson(nx.cycle_graph(4), n_rounds=0), ValueError, "n_rounds"),
        (lambda: exact_diagonalization(np.array([[0.0, 1.0], [0.0, 0.0]])), ValueError, "Hermitian"),
        (lambda: exact_diagonalization(np.eye(3), k=4), ValueError, "k must be"),
        (lambda: exact_diagonalization([[1.0]]), TypeError, "numpy array"),
        (
            lambda: exact_diagonalization(sp.csr_matrix((2**21, 2**21))),
            ValueError,
            r"at most 2\*\*20 = 1048576",
        ),
    ],
)
def test_bad_input_is_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
