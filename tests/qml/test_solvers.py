"""QAOA and VQE: answers against exact optima / exact diagonalisation, on the Aer backend and PennyLane's own."""

import networkx as nx
import numpy as np
import pennylane as qp
import pytest
from graphs import weighted_graph  # tests/graphs.py, on sys.path through tests/conftest.py

from qhybrid.qml.backends import default_diff_method, make_device
from qhybrid.qml.solvers import (
    QAOA,
    QUBO,
    VQE,
    HamiltonianProblem,
    MaxCut,
    energy_functions,
    h2,
    interp_init,
    linear_ramp,
    transverse_field_ising,
)
from qhybrid.qml.solvers.qaoa import qaoa_circuit

CHEMICAL_ACCURACY = 1.6e-3  # hartree


@pytest.mark.parametrize(
    "graph",
    [
        nx.random_regular_graph(3, 8, seed=0),
        nx.random_regular_graph(3, 6, seed=1),
        nx.cycle_graph(7),
        weighted_graph(7, 3, integer_weights=True),
    ],
    ids=["3reg8", "3reg6", "cycle7", "weighted7"],
)
def test_qaoa_finds_an_optimal_cut(graph):
    problem = MaxCut(graph)
    res = QAOA(p=2, init="interp", backend="aer", seed=0).solve(problem)
    assert res.cost == problem.optimum() == res.optimum
    assert problem.cut_value(res.bitstring) == res.cost
    assert res.approximation_ratio == 1.0
    assert 0.6 < res.expected_ratio < 1.0
    assert res.n_evaluations >= len(res.history) > 0
    assert res.wall_time > 0 and res.backend == "aer" and res.gammas.shape == res.betas.shape == (2,)


@pytest.mark.parametrize("seed", range(4))
def test_qaoa_p1_three_regular_beats_farhi_bound(seed):
    problem = MaxCut(nx.random_regular_graph(3, 10, seed=seed))
    res = QAOA(p=1, backend="aer", seed=seed).solve(problem)
    assert res.expected_ratio >= 0.6924
    assert res.expected_cost == pytest.approx(res.expected_ratio * problem.optimum())


def test_qaoa_p1_ring_reaches_three_quarters():
    # p=1 on an even ring: each edge is cut with probability at most 3/4 (Farhi et al. 2014), max cut = n
    res = QAOA(p=1, backend="aer", seed=0, tol=1e-8).solve(MaxCut(nx.cycle_graph(8)))
    assert res.expected_ratio == pytest.approx(0.75, abs=1e-4)


def test_qaoa_energy_landscape_agrees_across_backends():
    # The landscape itself, at fixed angles: comparing COBYLA runs instead fails on some CPUs, where the
    # optimiser amplifies last-bit rounding differences between simulators into different trajectories.
    problem = MaxCut(nx.random_regular_graph(3, 8, seed=5))
    layers, hamiltonian = qaoa_circuit(problem), problem.cost_hamiltonian()
    funcs = {}
    for backend in ("aer", "default"):
        dev = make_device(backend, problem.n_qubits)

        @qp.qnode(dev, diff_method=default_diff_method(backend))
        def energy(params):
            layers(params, 2)
            return qp.expval(hamiltonian)

        funcs[backend] = energy_functions(energy)[1]
    for x in np.random.default_rng(3).uniform(0, np.pi, (10, 4)):
        (va, ga), (vd, gd) = funcs["aer"](x), funcs["default"](x)
        assert va == pytest.approx(vd, abs=1e-10)
        np.testing.assert_allclose(ga, gd, atol=1e-10)


def test_qaoa_gradient_runs_agree_across_backends():
    # Adam's steps are smooth in the energies, so the two backends follow one trajectory
    problem = MaxCut(nx.random_regular_graph(3, 8, seed=5))
    kw = {"p": 2, "maxiter": 15, "seed": 3, "optimizer": "adam"}
    aer = QAOA(backend="aer", **kw).solve(problem)
    ref = QAOA(backend="default", **kw).solve(problem)
    assert aer.energy == pytest.approx(ref.energy, abs=1e-8)
    np.testing.assert_allclose(aer.history, ref.history, atol=1e-8)


@pytest.mark.parametrize("optimizer", ["adam", "spsa"])
def test_qaoa_other_optimizers(optimizer):
    problem = MaxCut(nx.cycle_graph(6))
    res = QAOA(p=1, optimizer=optimizer, maxiter=60, backend="lightning", seed=1).solve(problem)
    assert res.optimizer == optimizer
    assert res.expected_ratio > (0.74 if optimizer == "adam" else 0.65)
    assert res.cost == 6.0


def test_interp_depths_improve_and_formula():
    g, b = interp_init(np.array([0.2, 0.6]), np.array([0.5, 0.1]))
    np.testing.assert_allclose(g, [0.2, 0.4, 0.6])
    np.testing.assert_allclose(b, [0.5, 0.3, 0.1])
    gam, bet = linear_ramp(4)
    assert np.all(np.diff(gam) > 0) and np.all(np.diff(bet) < 0)
    res = QAOA(p=3, init="interp", backend="aer", seed=0).solve(MaxCut(nx.random_regular_graph(3, 8, seed=2)))
    ratios = [d.expected_ratio for d in res.depths]
    assert [d.p for d in res.depths] == [1, 2, 3]
    assert ratios[0] < ratios[1] < ratios[2]
    assert res.n_evaluations >= sum(d.n_evaluations for d in res.depths)


def test_probability_optimal_is_the_mass_on_the_optimal_cuts():
    # a star read from an edge list: the optimal cuts put the centre, wire 0, alone: 1000 and 0111
    problem = MaxCut([(0, 1), (0, 2), (0, 3)])
    res = QAOA(p=1, backend="default", seed=0, maxiter=20).solve(problem)
    apply = qaoa_circuit(problem)

    @qp.qnode(qp.device("default.qubit", wires=4))
    def probs(x):
        apply(x, 1)
        return qp.probs(wires=range(4))

    p = probs(np.concatenate([res.gammas, res.betas]))
    assert res.probability_optimal == pytest.approx(float(p[0b1000] + p[0b0111]), abs=1e-12)
    assert abs(p[0b1000] - p[0b0001]) > 0.01  # the order of the bits matters


def test_qaoa_random_init_is_reproducible():
    problem = MaxCut(nx.cycle_graph(6))
    a = QAOA(p=2, init="random", backend="aer", seed=11, maxiter=30).solve(problem)
    b = QAOA(p=2, init="random", backend="aer", seed=11, maxiter=30).solve(problem)
    np.testing.assert_allclose(a.gammas, b.gammas)
    assert a.history == b.history


def test_qaoa_on_a_qubo_and_with_shots():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(5, 5))
    problem = QUBO((a + a.T) / 2, offset=1.0)
    res = QAOA(p=2, init="interp", backend="aer", seed=0).solve(problem)
    assert res.cost == pytest.approx(problem.optimum())
    assert res.energy == pytest.approx(res.expected_cost)
    sampled = QAOA(p=1, backend="aer.shots", shots=2000, seed=0).solve(MaxCut(nx.cycle_graph(6)))
    assert sampled.cost == 6.0
    assert sampled.probability_optimal is None
    assert 0.6 < sampled.expected_ratio < 0.85


@pytest.mark.parametrize("ansatz", ["doubles", "uccsd"])
def test_vqe_h2_reaches_chemical_accuracy_on_aer(ansatz):
    problem = h2(0.7414)
    res = VQE(ansatz, backend="aer", seed=0).solve(problem)
    exact = problem.exact_energy()
    assert res.exact_energy == exact
    assert abs(res.energy - exact) < CHEMICAL_ACCURACY
    assert res.error >= -1e-9  # variational: never below the ground state
    assert res.n_evaluations >= len(res.history) > 0 and res.backend == "aer"


def test_vqe_h2_adam_on_default_matches():
    res = VQE("doubles", optimizer="adam", backend="default", maxiter=80, stepsize=0.2).solve(h2())
    assert abs(res.error) < CHEMICAL_ACCURACY
    assert res.n_params == 1


def test_vqe_hardware_efficient_on_tfim():
    problem = transverse_field_ising(4)
    res = VQE("hardware_efficient", n_layers=3, optimizer="adam", maxiter=150, backend="aer", seed=0).solve(
        problem
    )
    assert res.n_params == 24
    assert -1e-9 <= res.error < 0.02


@pytest.mark.slow
def test_vqe_lih_uccsd_on_aer():
    from qhybrid.qml.solvers import lih

    res = VQE("uccsd", backend="aer", maxiter=300).solve(lih())
    assert abs(res.error) < CHEMICAL_ACCURACY


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: QAOA(p=0), ValueError, "p must be >= 1"),
        (lambda: QAOA(p=1.5), TypeError, "p must be an int"),
        (lambda: QAOA(optimizer="bfgs"), ValueError, "unknown optimizer"),
        (lambda: QAOA(init="zeros"), ValueError, "unknown init"),
        (lambda: QAOA(backend="qasm"), ValueError, "unknown backend"),
        (lambda: QAOA(backend="aer.shots"), ValueError, "needs shots"),
        (lambda: QAOA(shots=0), ValueError, "shots"),
        (lambda: QAOA(stepsize=float("nan")), ValueError, "stepsize"),
        (lambda: QAOA(backend="default").solve(nx.cycle_graph(4)), TypeError, "QUBO or MaxCut"),
        (lambda: QAOA(backend="aer").solve(MaxCut(nx.cycle_graph(25))), ValueError, "max_qubits=20"),
        (lambda: QAOA(backend="aer", max_qubits=3).solve(MaxCut(nx.cycle_graph(4))), ValueError, "4 qubits"),
        (lambda: VQE("ucc"), ValueError, "unknown ansatz"),
        (lambda: VQE(n_layers=0), ValueError, "n_layers"),
        (lambda: VQE(optimizer="sgd"), ValueError, "unknown optimizer"),
        (lambda: VQE(backend="aer").solve(MaxCut(nx.cycle_graph(4))), TypeError, "HamiltonianProblem"),
        (lambda: VQE("uccsd", backend="aer").solve(transverse_field_ising(3)), ValueError, "Hartree-Fock"),
        (lambda: VQE(backend="aer", max_qubits=2).solve(h2()), ValueError, "4 qubits"),
        (lambda: HamiltonianProblem("Z0", 1), TypeError, "PennyLane operator"),
    ],
)
def test_bad_solver_input_is_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_qaoa_circuit_matches_cost_hamiltonian_at_known_angles():
    import pennylane as qp

    from qhybrid.qml.backends import make_device
    from qhybrid.qml.solvers import qaoa_circuit

    problem = MaxCut(nx.cycle_graph(3))
    apply = qaoa_circuit(problem)

    @qp.qnode(make_device("aer", 3))
    def energy(x):
        apply(x, 1)
        return qp.expval(problem.cost_hamiltonian())

    # |+++>: each edge cut with probability 1/2
    assert float(energy(np.array([0.0, 0.0]))) == pytest.approx(-1.5, abs=1e-10)
    # beta = pi/2: the mixer is a global X, a symmetry of H_C, and the cost layer commutes with H_C
    assert float(energy(np.array([0.7, np.pi / 2]))) == pytest.approx(-1.5, abs=1e-10)
