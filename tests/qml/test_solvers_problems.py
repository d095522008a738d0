"""Problems of the variational solvers: costs, cost Hamiltonians, exact optima, input checks."""

import itertools

import networkx as nx
import numpy as np
import pennylane as qp
import pytest

from qhybrid.qml.solvers import QUBO, MaxCut, h2, heisenberg, lih, molecule, transverse_field_ising


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
        (lambda: QUBO(np.eye(23)).optimum(), ValueError, "limited to 22"),
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
