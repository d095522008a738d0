"""The adjoint's reversed pass: layers of commuting gates, parity reads, diagonal observables."""

import itertools

import networkx as nx
import numpy as np
import pennylane as qp
import pytest
import random_circuits  # tests/qml/random_circuits.py, on sys.path through conftest.py
from pennylane import numpy as pnp

from qhybrid.qml import make_device
from qhybrid.qml.aer.adjoint import z_diagonal
from qhybrid.qml.aer.layers import DIAGONAL_GATES, reversed_layers
from qhybrid.qml.aer.paulis import bit_parities, single_z_diagonal, walsh_hadamard, z_signs


def structure_of(tape, n_wires):
    """The compiled structure of ``tape`` after the device's preprocessing (decompositions)."""
    device = make_device("aer", n_wires)
    (tape,), _ = device.preprocess_transforms()((tape,))
    _, _, build = device._runner.analyse(tape)
    return build()


def test_walsh_hadamard_gives_every_parity_expectation():
    rng = np.random.default_rng(0)
    for m in range(0, 11):
        p = rng.random(2**m)
        index = np.arange(2**m)
        expected = [np.sum(p * (-1) ** np.array([bin(b & s).count("1") for b in index])) for s in index]
        np.testing.assert_allclose(walsh_hadamard(p), expected, rtol=1e-12, atol=1e-12)


def test_bit_parities_are_the_transform_at_single_bits():
    rng = np.random.default_rng(1)
    for m in range(0, 9):
        p = rng.normal(size=2**m)
        full = walsh_hadamard(p)
        parities = bit_parities(p)
        assert sorted(parities) == [0] + [1 << j for j in range(m)]
        for mask, value in parities.items():
            assert value == pytest.approx(full[mask], abs=1e-12)


def test_single_z_diagonal_equals_the_sum_of_sign_arrays():
    n, rows = 5, 3
    rng = np.random.default_rng(2)
    weights = {w: rng.normal(size=rows) for w in (0, 2, 3, 4)}
    expected = sum(weights[w][:, None] * z_signs(n, (w,)) for w in weights)
    np.testing.assert_allclose(single_z_diagonal(n, weights, rows), expected, atol=1e-14)


def test_z_diagonal_is_the_weighted_sum_of_z_words():
    n, words = 3, [(0,), (0, 2), ()]
    weights = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    z = [
        qp.matrix(qp.Z(0), wire_order=range(n)),
        qp.matrix(qp.Z(0) @ qp.Z(2), wire_order=range(n)),
        np.eye(8),
    ]
    expected = [np.diag(sum(w * m for w, m in zip(row, z, strict=True))) for row in weights]
    np.testing.assert_allclose(z_diagonal(n, words, weights), expected)
    # the same weights in every row give one diagonal
    assert z_diagonal(n, words, weights[[0, 0]]).shape == (1, 8)


def test_a_qaoa_cost_layer_is_one_layer_of_the_reversed_pass():
    graph = nx.random_regular_graph(3, 8, seed=0)
    with qp.tape.QuantumTape() as tape:
        for w in range(8):
            qp.Hadamard(w)
        for a, b in graph.edges:
            qp.IsingZZ(0.3, wires=[a, b])
        for w in range(8):
            qp.RX(0.2, wires=w)
        qp.expval(qp.Z(0))
    structure = structure_of(tape, 8)
    layers = reversed_layers(structure, rotations(structure))
    # reversed: the mixer (8 RX on distinct wires), the 12 phase gates together, the Hadamards
    assert [len(layer) for layer in layers] == [8, 12, 8]


def rotations(structure) -> frozenset:
    return frozenset(i for i, g in enumerate(structure.gates) if g.slot is not None)


def test_strongly_entangling_rotations_need_one_save_per_rotation_layer():
    n = 12
    with qp.tape.QuantumTape() as tape:
        qp.StronglyEntanglingLayers(np.full((2, n, 3), 0.1), wires=range(n))
        qp.expval(qp.Z(0))
    structure = structure_of(tape, n)
    measured = rotations(structure)
    layers = reversed_layers(structure, measured)
    # RZ, RY, RZ of each of the 2 layers; undone as soon as ready, the CNOT ring spreads them over 26
    assert sum(any(i in measured for i in layer) for layer in layers) == 6
    assert all(all(i in measured for i in layer) or not any(i in measured for i in layer) for layer in layers)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gates_in_one_layer_commute_and_other_pairs_keep_their_order(seed):
    ops, n_params = random_circuits.random_circuit(random_circuits.GATES, 4, 30, seed)
    params = np.random.default_rng(seed).uniform(-2, 2, n_params)
    with qp.tape.QuantumTape() as tape:
        ops(params)
        qp.expval(qp.Z(0))
    structure = structure_of(tape, 4)
    measured = frozenset(np.random.default_rng(seed).choice(len(structure.gates), 10, replace=False).tolist())
    layer_of = {i: k for k, layer in enumerate(reversed_layers(structure, measured)) for i in layer}
    assert sorted(layer_of) == list(range(len(structure.gates)))
    gates = structure.gates
    for i, j in itertools.combinations(range(len(gates)), 2):  # i before j in the circuit
        shared = set(gates[i].wires) & set(gates[j].wires)
        commute = not shared or (gates[i].name in DIAGONAL_GATES and gates[j].name in DIAGONAL_GATES)
        if layer_of[i] == layer_of[j]:
            assert commute, (gates[i], gates[j])
        elif not commute:
            assert layer_of[j] < layer_of[i]  # undone first in the reversed pass


def qaoa_energy(device, graph, n, diff_method):
    cost = qp.Hamiltonian(
        [1.0] * len(graph.edges) + [0.5], [qp.Z(a) @ qp.Z(b) for a, b in graph.edges] + [qp.I(0)]
    )

    @qp.qnode(device, diff_method=diff_method)
    def energy(angles):
        for w in range(n):
            qp.Hadamard(w)
        for layer in range(2):
            for a, b in graph.edges:
                qp.IsingZZ(angles[2 * layer], wires=[a, b])
            for w in range(n):
                qp.RX(angles[2 * layer + 1], wires=w)
        return qp.expval(cost)

    return energy


def test_qaoa_energy_gradient_matches_default_qubit():
    n = 6
    graph = nx.random_regular_graph(3, n, seed=1)
    angles = pnp.array([0.4, -0.7, 1.1, 0.3], requires_grad=True)
    ours = qaoa_energy(make_device("aer", n), graph, n, "adjoint")
    reference = qaoa_energy(qp.device("default.qubit", wires=n), graph, n, "backprop")
    np.testing.assert_allclose(ours(angles), reference(angles), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(qp.grad(ours)(angles), qp.grad(reference)(angles), rtol=1e-8, atol=1e-10)


def test_broadcast_vjp_with_z_and_other_words_matches_default_qubit():
    import torch

    n = 4

    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.StronglyEntanglingLayers(w, wires=range(n))
        return [qp.expval(qp.Z(i)) for i in range(n)] + [
            qp.expval(0.3 * qp.X(0) @ qp.Y(1) - qp.Z(2) @ qp.Z(3))
        ]

    x = torch.rand(5, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    results = []
    for device, method in (
        (make_device("aer", n), "adjoint"),
        (qp.device("default.qubit", wires=n), "backprop"),
    ):
        w = torch.linspace(-1, 1, 2 * n * 3, dtype=torch.float64).reshape(2, n, 3).requires_grad_()
        out = torch.stack(qp.QNode(circuit, device, interface="torch", diff_method=method)(x, w), dim=-1)
        (out * torch.arange(1, n + 2)).sum().backward()
        results.append((out.detach().numpy(), w.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-8, atol=1e-10)


def test_u_angles_give_the_unitary_up_to_a_global_phase():
    from qiskit.circuit.library import UGate
    from scipy.stats import unitary_group

    from qhybrid.qml.aer.joint import u_angles

    fixed = [np.eye(2), np.array([[0, 1], [1, 0]]), np.diag([1, 1j]), np.array([[0, -1j], [1j, 0]])]
    for matrix in fixed + [unitary_group.rvs(2, random_state=k) for k in range(20)]:
        u = UGate(*u_angles(matrix)).to_matrix()
        overlap = np.vdot(u.ravel(), matrix.ravel())
        np.testing.assert_allclose(u * overlap / abs(overlap), matrix, atol=1e-12)
