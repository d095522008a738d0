"""Tests for qml.kernels: Gram matrices against direct default.qubit / default.mixed computations of the
study's circuits, the properties of fidelity kernels, sampled kernels within their standard errors, and
errors by type and message."""

from functools import partial

import numpy as np
import pennylane as qp
import pytest

import qhybrid.qml.kernels as kernels
from qhybrid.qml.kernels import (
    FidelityKernel,
    ProductKernel,
    ProjectedKernel,
    check_kernel_width,
    hamiltonian_feature_map,
    iqp_feature_map,
    kernel_method,
    separable_feature_map,
)

N_QUBITS = 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return rng.uniform(-np.pi / 2, np.pi / 2, (5, N_QUBITS)), rng.uniform(
        -np.pi / 2, np.pi / 2, (4, N_QUBITS)
    )


# ------------------------------------------------------------------------------- references (default.*)


def iqp_reference(A, B, repeats):
    """The study's kernel circuit: IQPEmbedding(x), adjoint(IQPEmbedding(x')), P(0...0)."""
    n = A.shape[1]

    @qp.qnode(qp.device("default.qubit", wires=n))
    def circuit(x1, x2):
        qp.IQPEmbedding(x1, wires=range(n), n_repeats=repeats)
        qp.adjoint(qp.IQPEmbedding(x2, wires=range(n), n_repeats=repeats))
        return qp.probs()

    return np.array([[circuit(a, b)[0] for b in B] for a in A])


def hamiltonian_paulis(X, rotations, t, steps):
    """The study's projected-kernel circuit on default.qubit: <X_k>, <Y_k>, <Z_k> of every qubit."""
    n = X.shape[1] + 1
    tau = t / steps * (n - 1)

    @qp.qnode(qp.device("default.qubit", wires=n))
    def circuit(x):
        for i in range(n):
            qp.Rot(*rotations[i], wires=i)
        for _ in range(steps):
            for j in range(n - 1):
                qp.IsingXX(x[j] * tau, wires=[j, j + 1])
                qp.IsingYY(x[j] * tau, wires=[j, j + 1])
                qp.IsingZZ(x[j] * tau, wires=[j, j + 1])
        return [qp.expval(P(i)) for i in range(n) for P in (qp.X, qp.Y, qp.Z)]

    return np.array([np.reshape(circuit(x), (n, 3)) for x in X])


def separable_reference(A, B, layers, noise_q=0.0):
    """The study's one-qubit circuit per feature, P(0), multiplied over the features; with ``noise_q`` a
    PennyLane depolarising channel after every gate on default.mixed."""
    dev = qp.device("default.mixed" if noise_q else "default.qubit", wires=1)

    def gate(op):
        if noise_q:
            qp.DepolarizingChannel(noise_q, wires=0)

    @qp.qnode(dev)
    def qubit(a, b):
        for _ in range(layers):
            gate(qp.RX(-np.pi / 4, wires=0))
            gate(qp.RY(-a, wires=0))
        for _ in range(layers):
            gate(qp.RY(b, wires=0))
            gate(qp.RX(np.pi / 4, wires=0))
        return qp.probs(wires=0)

    return np.array([[np.prod([qubit(a[k], b[k])[0] for k in range(len(a))]) for b in B] for a in A])


# ----------------------------------------------------------------------------------------- feature maps


@pytest.mark.parametrize("repeats", [1, 3])
def test_iqp_feature_map_is_pennylanes_iqp_embedding(data, repeats):
    X, _ = data
    dev = qp.device("default.qubit", wires=N_QUBITS)
    ours = qp.QNode(lambda x: (iqp_feature_map(x, range(N_QUBITS), repeats), qp.state())[1], dev)
    ref = qp.QNode(lambda x: (qp.IQPEmbedding(x, range(N_QUBITS), n_repeats=repeats), qp.state())[1], dev)
    np.testing.assert_allclose(ours(X), ref(X), atol=1e-12)


# ----------------------------------------------------------------------------------------- IQP kernel


@pytest.mark.parametrize("backend", ["aer", "default", "lightning", "aer.mps"])
def test_iqp_statevector_gram_equals_default_qubit(data, backend):
    X, Y = data
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=2), N_QUBITS, backend)
    A, B = kernel.embed(X), kernel.embed(Y)
    assert kernel.method == "statevector" and A.shape == (5, 2**N_QUBITS)
    np.testing.assert_allclose(kernel.gram(A, B), iqp_reference(X, Y, 2), atol=1e-8)
    gram = kernel.gram(A)
    np.testing.assert_allclose(gram, iqp_reference(X, X, 2), atol=1e-8)
    assert np.array_equal(gram, gram.T)
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(gram).min() > -1e-10
    assert kernel.circuit_executions == len(X) + len(Y)


def test_statevector_states_come_from_one_aer_call():
    X = np.random.default_rng(1).uniform(-1, 1, (100, 4))
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=2), 4, "aer")
    assert kernel.device.joint_runs is False  # parameter sets: faster for maps dense in rotations
    calls = kernel.device.aer_calls
    kernel.embed(X)
    assert kernel.device.aer_calls == calls + 1 and kernel.circuit_executions == 100
    assert FidelityKernel(partial(iqp_feature_map, repeats=2), 3, "aer").device.joint_runs is True
    density = FidelityKernel(partial(iqp_feature_map, repeats=2), 3, "aer.density").device
    density.joint_runs = True
    assert density.joint_runs is False  # only the noiseless statevector method has joint runs


def test_fidelity_method_on_density_matrix_equals_reference(data):
    X, Y = data
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=1), N_QUBITS, "aer.density")
    assert kernel.method == "fidelity"
    np.testing.assert_allclose(
        kernel.gram(kernel.embed(X), kernel.embed(Y)), iqp_reference(X, Y, 1), atol=1e-8
    )
    runs = kernel.circuit_executions
    gram = kernel.gram(kernel.embed(X))
    # noiseless: the diagonal is exactly 1 and only the strict upper triangle runs
    assert kernel.circuit_executions - runs == len(X) * (len(X) - 1) // 2
    np.testing.assert_allclose(gram, iqp_reference(X, X, 1), atol=1e-8)
    assert np.array_equal(gram, gram.T) and np.all(np.diag(gram) == 1.0)


def test_shots_fallback_is_within_five_standard_errors(data):
    X, Y = data
    shots = 4000
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=2), N_QUBITS, "aer.shots", shots=shots, seed=11)
    assert kernel.method == "fidelity"
    exact = iqp_reference(X, Y, 2)
    sampled = kernel.gram(kernel.embed(X), kernel.embed(Y))
    stderr = np.sqrt(np.maximum(exact * (1 - exact), 1 / shots) / shots)
    assert np.all(np.abs(sampled - exact) <= 5 * stderr)
    assert not np.allclose(sampled, exact, atol=1e-6)  # really sampled
    gram = kernel.gram(kernel.embed(X))
    assert np.array_equal(gram, gram.T) and np.all(np.diag(gram) == 1.0)


# ------------------------------------------------------------------------------------ separable kernel


@pytest.mark.parametrize("layers", [1, 3])
def test_product_kernel_equals_the_studys_one_qubit_circuits(data, layers):
    X, Y = data
    kernel = ProductKernel(partial(separable_feature_map, layers=layers), N_QUBITS, "aer")
    A, B = kernel.embed(X), kernel.embed(Y)
    assert kernel.method == "statevector" and A.shape == (5, N_QUBITS, 2) and kernel.n_wires == 1
    np.testing.assert_allclose(kernel.gram(A, B), separable_reference(X, Y, layers), atol=1e-8)
    # the same as the full n-qubit fidelity kernel of the product map
    full = FidelityKernel(partial(separable_feature_map, layers=layers), N_QUBITS, "default")
    np.testing.assert_allclose(kernel.gram(A), full.gram(full.embed(X)), atol=1e-10)


def test_noisy_product_kernel_equals_default_mixed(data):
    X, Y = data
    q = 0.03  # PennyLane's DepolarizingChannel(q) is Qiskit's depolarizing_error(4 q / 3)
    kernel = ProductKernel(
        partial(separable_feature_map, layers=2),
        N_QUBITS,
        "aer.density",
        noise={"depolarizing_1q": 4 * q / 3},
    )
    assert kernel.method == "fidelity" and kernel.n_wires == N_QUBITS
    np.testing.assert_allclose(
        kernel.gram(kernel.embed(X), kernel.embed(Y)), separable_reference(X, Y, 2, q), atol=1e-8
    )
    runs = kernel.circuit_executions
    gram = kernel.gram(kernel.embed(X))
    assert kernel.circuit_executions - runs == len(X) * (len(X) + 1) // 2  # noise: the diagonal runs too
    np.testing.assert_allclose(gram, separable_reference(X, X, 2, q), atol=1e-8)
    assert np.all(np.diag(gram) < 1.0) and np.array_equal(gram, gram.T)


# ------------------------------------------------------------------------------------ projected kernel


@pytest.mark.parametrize(("backend", "method"), [("aer", "statevector"), ("aer.density", "expval")])
def test_projected_kernel_equals_default_qubit(data, backend, method):
    X, Y = data
    rotations = np.random.default_rng(3).uniform(0, 2 * np.pi, (N_QUBITS + 1, 3))
    fmap = partial(hamiltonian_feature_map, rotations=rotations, t=0.7, trotter_steps=3)
    kernel = ProjectedKernel(fmap, N_QUBITS + 1, backend)
    A, B = kernel.embed(X), kernel.embed(Y)
    assert kernel.method == method and A.shape == (5, N_QUBITS + 1, 3)
    ref_a, ref_b = hamiltonian_paulis(X, rotations, 0.7, 3), hamiltonian_paulis(Y, rotations, 0.7, 3)
    np.testing.assert_allclose(A, ref_a, atol=1e-8)
    gamma = 0.4
    direct = np.exp(-gamma * ((ref_a[:, None] - ref_b[None]) ** 2).sum(axis=(2, 3)))
    np.testing.assert_allclose(kernel.gram(A, B, gamma=gamma), direct, atol=1e-8)
    gram = kernel.gram(A, gamma=gamma)
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(gram).min() > -1e-10


def test_projected_kernel_with_shots_measures_paulis_within_error(data):
    X, _ = data
    rotations = np.random.default_rng(3).uniform(0, 2 * np.pi, (N_QUBITS + 1, 3))
    fmap = partial(hamiltonian_feature_map, rotations=rotations)
    shots = 4000
    kernel = ProjectedKernel(fmap, N_QUBITS + 1, "aer.shots", shots=shots, seed=5)
    exact = hamiltonian_paulis(X, rotations, 1 / 3, 5)
    sampled = kernel.embed(X)
    assert kernel.method == "expval" and kernel.circuit_executions == len(X)
    stderr = np.sqrt(np.maximum(1 - exact**2, 1 / shots) / shots)
    assert np.all(np.abs(sampled - exact) <= 5 * stderr)


def test_cross_gram_in_chunks_equals_one_piece(data, monkeypatch):
    X, Y = data
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=2), N_QUBITS, "aer")
    whole = kernel.gram(kernel.embed(Y), kernel.embed(X))
    monkeypatch.setattr(kernels, "_CHUNK_BYTES", 2 * 16 * 2**N_QUBITS)  # two rows at a time
    np.testing.assert_allclose(kernel.cross_gram(Y, kernel.embed(X)), whole, atol=1e-12)


# --------------------------------------------------------------------------------------------- errors


def test_unknown_backend_is_refused_with_the_allowed_names():
    with pytest.raises(ValueError, match=r"unknown backend 'qpu'; allowed: aer, aer.shots, aer.density"):
        kernel_method("qpu")
    with pytest.raises(ValueError, match="unknown backend 'qpu'"):
        FidelityKernel(partial(iqp_feature_map, repeats=1), 2, "qpu")


def test_methods_by_backend_shots_and_noise():
    assert kernel_method("aer") == kernel_method("lightning") == "statevector"
    assert kernel_method("aer", noise={}) == "statevector"  # a spec without any error is no noise
    assert kernel_method("aer.shots", shots=100) == kernel_method("default", shots=100) == "fidelity"
    assert kernel_method("aer.density") == "fidelity"


def test_too_many_qubits_name_the_width_features_and_range():
    with pytest.raises(ValueError, match=r"IQP kernel needs 41 qubits for 41 features; .* allow 1\.\.40"):
        check_kernel_width("IQP kernel", 41, "aer", 41)
    with pytest.raises(ValueError, match=r"needs 38 qubits for 38 features: .*at most \d+ qubits fit here"):
        check_kernel_width("IQP kernel", 38, "aer", 38)


def test_training_states_that_do_not_fit_are_refused(monkeypatch):
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=1), 10, "aer")
    monkeypatch.setattr(kernels, "available_memory_bytes", lambda: 2 * 100 * 16 * 2**10)
    kernel.check_fits(100)
    with pytest.raises(ValueError, match=r"101 training samples keep .* at most 100 training samples fit"):
        kernel.check_fits(101)


def test_a_feature_the_map_would_drop_is_refused():
    from functools import partial

    from qhybrid.qml.kernels import FidelityKernel, iqp_feature_map

    kernel = FidelityKernel(partial(iqp_feature_map, repeats=1), 3, "default")
    assert kernel.embed(np.random.default_rng(0).random((2, 3))).shape == (2, 8)
    with pytest.raises(ValueError, match=r"reads 3 of the 4 features; columns \[3\] would be dropped"):
        kernel.embed(np.random.default_rng(0).random((2, 4)))
