"""Problems of the variational solvers: costs, cost Hamiltonians, exact optima, input checks."""

import itertools

import networkx as nx
import numpy as np
import pennylane as qp
import pytest
import scipy.sparse as sp

from qhybrid.classical import solvers as cs
from qhybrid.qml.solvers import (
    QUBO,
    HamiltonianProblem,
    MaxCut,
    h2,
    heisenberg,
    lih,
    molecule,
    transverse_field_ising,
)


def _diag(hamiltonian, n):
    return np.real(np.diag(qp.matrix(hamiltonian, wire_order=range(n))))


def _bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)))  # wire 0 = most significant, as qp.probs


def test_qubo_hamiltonian_diagonal_is_the_cost():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    q = QUBO(a + a.T, offset=0.7)
    energies = np.array([x @ (a + a.T) @ x + 0.7 for x in _bits(5)])
    np.testing.assert_allclose(q.energy(_bits(5)), energies, atol=1e-12)
    np.testing.assert_allclose(_diag(q.cost_hamiltonian(), 5), energies, atol=1e-12)
    assert q.optimum() == pytest.approx(energies.min())
    assert q.energy(q.optimal_bitstring()) == pytest.approx(energies.min())
    assert q.approximation_ratio(energies.min()) == 1.0
    assert q.approximation_ratio(energies.max()) == 0.0


def test_qubo_dict_form_and_ising_round_trip():
    q = QUBO({(0, 0): -1.0, (1, 1): -1.0, (0, 1): 2.0, (1, 2): -3.0}, offset=0.5)
    assert q.energy([1, 1, 1]) == pytest.approx(-1 - 1 + 2 - 3 + 0.5)
    assert q.energy([1, 0, 0]) == pytest.approx(-0.5)
    h, j, c = q.to_ising()
    back = QUBO.from_ising(h, j, c)
    np.testing.assert_allclose(back.matrix, q.matrix, atol=1e-12)
    assert back.offset == pytest.approx(q.offset)
    # spin energy sum h s + sum J s s + c with s = 1 - 2x
    spins = 1 - 2 * _bits(3)
    e_spin = spins @ h + np.einsum("mi,ij,mj->m", spins, j, spins) + c
    np.testing.assert_allclose(q.energy(_bits(3)), e_spin, atol=1e-12)
    assert QUBO.from_ising([0.0, 0.0], {(0, 1): 1.0}).optimum() == -1.0


@pytest.mark.parametrize(
    "graph, optimum",
    [
        (nx.cycle_graph(5), 4.0),
        (nx.complete_graph(4), 4.0),
        (nx.petersen_graph(), 12.0),
        (nx.star_graph(3), 3.0),
    ],
)
def test_maxcut_cost_hamiltonian_and_optimum(graph, optimum):
    mc = MaxCut(graph)
    n = graph.number_of_nodes()
    cuts = np.array([sum(b[u] != b[v] for u, v in graph.edges) for b in _bits(n)], dtype=float)
    np.testing.assert_allclose(mc.cut_value(_bits(n)), cuts)
    np.testing.assert_allclose(_diag(mc.cost_hamiltonian(), n), -cuts, atol=1e-12)
    np.testing.assert_allclose(_diag(QUBO.cost_hamiltonian(mc), n), -cuts, atol=1e-12)
    assert mc.optimum() == optimum
    assert mc.approximation_ratio(-optimum / 2) == pytest.approx(0.5)


def test_weighted_maxcut_uses_weights_and_node_order():
    g = nx.Graph()
    g.add_edge("b", "a", weight=2.5)
    g.add_edge("a", "c", weight=1.0)
    mc = MaxCut(g)
    assert mc.nodes == ["b", "a", "c"]
    assert mc.cut_value([1, 0, 0]) == 2.5
    assert mc.optimum() == 3.5
    assert MaxCut(g, weight=None).optimum() == 2.0


def test_maxcut_takes_an_edge_list_or_a_weight_matrix_like_the_classical_references():
    edges = [("b", "a", 2.5), ("a", "c", 1.0), ("c", "b", 0.5)]
    mc = MaxCut(edges)
    assert mc.nodes == ["b", "a", "c"] and mc.edges == [(0, 1, 2.5), (1, 2, 1.0), (2, 0, 0.5)]
    assert mc.optimum() == cs.brute_force_maxcut(edges).value == 3.5
    w = np.array([[0.0, 2.5, 0.5], [2.5, 0.0, 1.0], [0.5, 1.0, 0.0]])
    for form in (w, sp.csr_matrix(w)):
        np.testing.assert_array_equal(MaxCut(form).matrix, mc.matrix)
    assert MaxCut(w, weight=None).optimum() == cs.brute_force_maxcut(w, weight=None).value == 2.0
    q = QUBO(sp.csr_matrix(mc.matrix), offset=1.0)
    assert q.optimum() == cs.brute_force_qubo(mc.matrix, offset=1.0).value == -2.5


def test_energies_are_in_probs_order_and_the_limit_is_shared():
    q = QUBO({(0, 0): 1.0, (2, 2): 10.0, (0, 1): 100.0})
    # bitstring k has wire 0 as its most significant bit, as qml.probs orders its entries
    np.testing.assert_array_equal(q.energies(), [q.energy(b) for b in _bits(3)])
    assert q.energies()[0b100] == 1.0 and q.energies()[0b001] == 10.0 and q.energies()[0b110] == 101.0
    n = cs.MAX_ENUMERATION_QUBITS
    diag = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)
    big = QUBO(np.diag(diag))
    assert big.is_enumerable() and not QUBO(np.eye(n + 1)).is_enumerable()
    assert big.optimum() == cs.brute_force_qubo(np.diag(diag)).value == -n / 2
    np.testing.assert_array_equal(big.optimal_bitstring(), (diag < 0).astype(np.int8))


def _error(call):
    with pytest.raises((TypeError, ValueError)) as err:
        call()
    return err


_SAME_GRAPH_ERRORS = [
    (nx.Graph(), r"graph is empty \(no nodes\)"),
    ([], r"graph is empty \(no nodes\)"),
    (nx.empty_graph(3), "graph has 3 nodes but no edges"),
    (np.zeros((2, 2)), "graph has 2 nodes but no edges"),
    (
        nx.Graph([(0, 1, {"weight": -1.0})]),
        r"edge \(0, 1\) has weight -1.0; MaxCut weights must be finite and >= 0",
    ),
    ([(0, 1, float("nan"))], r"edge \(0, 1\) has weight nan"),
    (nx.Graph([(0, 1, {"weight": "heavy"})]), "non-numeric weight 'heavy'"),
    (nx.Graph([(0, 0), (0, 1)]), r"self-loops \[\(0, 0\)\]"),
    (np.eye(2), r"self-loops \[\(0, 0\), \(1, 1\)\]"),
    ([(0, 1), (1, 0)], "listed twice"),
    (np.array([[0.0, 1.0], [2.0, 0.0]]), r"must be symmetric, but W\[0, 1\]=1.0 != W\[1, 0\]=2.0"),
    (np.ones((3, 2)), r"must be square \(n, n\), got shape \(3, 2\)"),
    (nx.DiGraph([(0, 1)]), "undirected simple networkx.Graph, got DiGraph"),
    ({0: [1]}, "graph must be a networkx.Graph, an edge list .* got dict"),
    (
        nx.cycle_graph(25),
        r"exact enumeration of 25 variables \(2\*\*25 assignments\) is too large: at most 24",
    ),
]


def _same_error(quantum, classical):
    assert type(classical.value) is type(quantum.value)
    assert str(classical.value) == str(quantum.value)


@pytest.mark.parametrize("graph, match", _SAME_GRAPH_ERRORS)
def test_maxcut_and_the_classical_references_refuse_the_same_graphs_alike(graph, match):
    quantum = _error(lambda: MaxCut(graph).optimum())
    quantum.match(match)
    _same_error(quantum, _error(lambda: cs.brute_force_maxcut(graph)))
    if "enumeration" not in match:  # the references that do not enumerate check the graph alike too
        _same_error(quantum, _error(lambda: cs.simulated_annealing_maxcut(graph)))
        _same_error(quantum, _error(lambda: cs.goemans_williamson(graph)))


_SAME_QUBO_ERRORS = [
    (np.array([[0.0, 1.0], [0.0, 0.0]]), 0.0, r"must be symmetric, but Q\[0, 1\]=1.0 != Q\[1, 0\]=0.0"),
    (np.array([[np.nan]]), 0.0, r"NaN or infinite entries \(Q\[0, 0\]=nan\)"),
    (np.ones((2, 3)), 0.0, r"must be square \(n, n\), got shape \(2, 3\)"),
    (np.zeros((0, 0)), 0.0, "QUBO matrix is empty"),
    (np.array([[1j]]), 0.0, "must be real, got complex ndarray"),
    ([["a"]], 0.0, "square array of real numbers, got list"),
    (np.eye(2), float("inf"), "offset must be a finite number, got inf"),
    (np.eye(2), "0", "offset must be a finite number, got str '0'"),
    (np.eye(25), 0.0, "exact enumeration of 25 variables .* at most 24 variables"),
]


@pytest.mark.parametrize("matrix, offset, match", _SAME_QUBO_ERRORS)
def test_qubo_and_the_classical_references_refuse_the_same_matrices_alike(matrix, offset, match):
    quantum = _error(lambda: QUBO(matrix, offset=offset).optimum())
    quantum.match(match)
    _same_error(quantum, _error(lambda: cs.brute_force_qubo(matrix, offset)))
    if "enumeration" not in match:
        _same_error(quantum, _error(lambda: cs.simulated_annealing_qubo(matrix, offset)))


def test_diagonalisation_limit_is_shared():
    n = cs.MAX_DIAGONALISATION_QUBITS + 1
    problem = HamiltonianProblem(qp.Z(0) @ qp.Z(n - 1), n)
    assert not problem.is_diagonalisable() and transverse_field_ising(n - 1).is_diagonalisable()
    quantum = _error(problem.sparse_matrix)
    _same_error(quantum, _error(lambda: cs.exact_diagonalization(sp.csr_matrix((2**n, 2**n)))))
    assert type(quantum.value) is ValueError and str(quantum.value) == (
        "exact diagonalisation of a matrix of dimension 2097152 (21 qubits) is too large: at most "
        "2**20 = 1048576 (a 20-qubit Hamiltonian)"
    )


def test_h2_and_lih_energies():
    p = h2()
    assert p.n_qubits == 4 and list(p.hf_state) == [1, 1, 0, 0]
    # FCI / STO-3G at 0.7414 angstrom
    assert p.exact_energy() == pytest.approx(-1.13727, abs=2e-5)
    assert h2(2.5).exact_energy() > p.exact_energy()
    lp = lih()
    assert lp.n_qubits == 6 and lp.n_electrons == 2
    assert -7.9 < lp.exact_energy() < -7.8


def test_spin_chains_against_analytic_values():
    assert transverse_field_ising(5, J=0.0, h=1.3).exact_energy() == pytest.approx(-6.5)
    assert transverse_field_ising(5, J=1.0, h=0.0).exact_energy() == pytest.approx(-4.0)
    # open TFIM at criticality: E0 = 1 - 1/sin(pi / (2 (2n + 1))), n sites
    n = 6
    assert transverse_field_ising(n).exact_energy() == pytest.approx(
        1 - 1 / np.sin(np.pi / (2 * (2 * n + 1)))
    )
    assert heisenberg(2).exact_energy() == pytest.approx(-3.0)  # the singlet
    assert heisenberg(4, periodic=True).exact_energy() == pytest.approx(-8.0)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: MaxCut(nx.Graph()), ValueError, "empty"),
        (lambda: MaxCut(nx.empty_graph(4)), ValueError, "no edges"),
        (lambda: MaxCut(nx.Graph([(0, 1, {"weight": -2.0})])), ValueError, "finite and >= 0"),
        (lambda: MaxCut(nx.Graph([(0, 1, {"weight": float("nan")})])), ValueError, "finite"),
        (lambda: MaxCut(nx.Graph([(0, 1, {"weight": "heavy"})])), TypeError, "non-numeric"),
        (lambda: MaxCut(nx.DiGraph([(0, 1)])), TypeError, "undirected"),
        (lambda: MaxCut(nx.Graph([(1, 1), (1, 2)])), ValueError, "self-loop"),
        (lambda: MaxCut({0: [1]}), TypeError, "networkx.Graph"),
        (lambda: QUBO(np.array([[0.0, 1.0], [0.0, 0.0]])), ValueError, "symmetric"),
        (lambda: QUBO(np.array([[np.nan]])), ValueError, "NaN"),
        (lambda: QUBO(np.ones((2, 3))), ValueError, "square"),
        (lambda: QUBO(np.zeros((0, 0))), ValueError, "empty"),
        (lambda: QUBO({}), ValueError, "empty"),
        (lambda: QUBO({(0, -1): 1.0}), ValueError, "non-negative ints"),
        (lambda: QUBO(np.eye(2), offset=float("inf")), ValueError, "offset"),
        (lambda: QUBO.from_ising([0.0, 0.0], np.array([[0.0, 1.0], [2.0, 0.0]])), ValueError, "symmetric"),
        (lambda: QUBO(np.eye(25)).optimum(), ValueError, "at most 24 variables"),
        (lambda: transverse_field_ising(21).sparse_matrix(), ValueError, r"at most 2\*\*20"),
        (lambda: QUBO(np.eye(2)).energy([1, 0, 1]), ValueError, "2 bits"),
        (lambda: QUBO(np.eye(2)).energy([2, 0]), ValueError, "only 0 and 1"),
        (lambda: transverse_field_ising(1), ValueError, "n_sites"),
        (lambda: heisenberg(3.0), TypeError, "int"),
        (lambda: h2(-0.5), ValueError, "bond_length"),
        (lambda: molecule(["H", "H"], [0.0, 0.0, 0.7]), ValueError, "3 numbers per atom"),
        (lambda: molecule(["H", "H"], [[0, 0, 0], [0, 0, np.nan]]), ValueError, "NaN"),
    ],
)
def test_bad_problem_input_is_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
