"""qhybrid's batched Aer device against PennyLane's default.qubit (the reference)."""

import numpy as np
import pennylane as qp
import pytest
import random_circuits  # tests/qml/random_circuits.py, on sys.path through conftest.py
from pennylane import numpy as pnp

from qhybrid.qml import AerDevice, make_device

RTOL = 1e-8
ATOL = 1e-10

# Gates with their number of parameters and wires; the random circuits draw from all of them.
GATES = random_circuits.GATES


def random_circuit(n_wires: int, n_gates: int, seed: int):
    return random_circuits.random_circuit(GATES, n_wires, n_gates, seed)


observables = random_circuits.observables


def make_qnode(device, ops, n_wires, diff_method, kind="expval"):
    def circuit(params):
        ops(params)
        if kind == "expval":
            return [qp.expval(o) for o in observables(n_wires)]
        if kind == "var":
            obs = observables(n_wires)
            return [qp.var(obs[1]), qp.var(obs[2])]
        return qp.probs(wires=[2, 0])

    return qp.QNode(circuit, device, diff_method=diff_method)


def close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("diff_method", ["adjoint", "parameter-shift"])
def test_random_circuit_values_and_gradients_match_default_qubit(seed, diff_method):
    n = 4
    ops, n_params = random_circuit(n, 30, seed)
    params = pnp.array(np.random.default_rng(seed + 10).uniform(-np.pi, np.pi, n_params), requires_grad=True)
    ref = make_qnode(qp.device("default.qubit", wires=n), ops, n, "backprop")
    ours = make_qnode(AerDevice(n), ops, n, diff_method)

    close(ours(params), ref(params))

    def stacked(q):
        return lambda p: qp.math.stack(q(p))

    close(qp.jacobian(stacked(ours))(params), qp.jacobian(stacked(ref))(params))


@pytest.mark.parametrize("kind", ["var", "probs"])
def test_variance_and_probabilities_with_parameter_shift(kind):
    n = 3
    ops, n_params = random_circuit(n, 20, 7)
    params = pnp.array(np.linspace(-2, 2, n_params), requires_grad=True)
    ref = make_qnode(qp.device("default.qubit", wires=n), ops, n, "backprop", kind)
    ours = make_qnode(AerDevice(n), ops, n, "parameter-shift", kind)
    close(
        qp.math.stack(ours(params)) if kind == "var" else ours(params),
        qp.math.stack(ref(params)) if kind == "var" else ref(params),
    )
    f = (lambda q: lambda p: qp.math.stack(q(p))) if kind == "var" else (lambda q: q)
    close(qp.jacobian(f(ours))(params), qp.jacobian(f(ref))(params))


def test_state_matches_default_qubit_including_global_phase():
    n = 3

    def circuit(x):
        qp.Hadamard(0)
        qp.RY(x, 1)
        qp.CNOT([0, 2])
        qp.U3(0.3, x, 0.9, wires=2)  # decomposes into rotations and a global phase
        return qp.state()

    ours = qp.QNode(circuit, AerDevice(n))(0.42)
    ref = qp.QNode(circuit, qp.device("default.qubit", wires=n))(0.42)
    close(np.real(ours), np.real(ref))
    close(np.imag(ours), np.imag(ref))


def test_broadcast_batch_runs_as_one_structure_and_cache_is_reused():
    n = 3
    dev = AerDevice(n)

    @qp.qnode(dev, diff_method="adjoint")
    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.BasicEntanglerLayers(w, wires=range(n))
        return [qp.expval(qp.Z(i)) for i in range(n)]

    x = np.random.default_rng(0).normal(size=(16, n))
    w = np.random.default_rng(1).normal(size=(2, n))
    first = np.stack(circuit(x, w))
    calls = dev.aer_calls
    second = np.stack(circuit(x + 0.1, w))
    assert dev.aer_calls == calls + 1  # 16 tapes, one Aer run
    assert dev.cache_info["misses"] == 1 and dev.cache_info["hits"] >= 1
    ref = qp.QNode(circuit.func, qp.device("default.qubit", wires=n))
    close(first, np.stack(ref(x, w)))
    close(second, np.stack(ref(x + 0.1, w)))


def test_adjoint_falls_back_to_parameter_shift_when_states_do_not_fit():
    n = 3
    ops, n_params = random_circuit(n, 15, 3)
    params = pnp.array(np.linspace(0.1, 1.0, n_params), requires_grad=True)
    dev = AerDevice(n, adjoint_memory=1)
    q = make_qnode(dev, ops, n, "device")
    ref = make_qnode(qp.device("default.qubit", wires=n), ops, n, "backprop")
    close(
        qp.jacobian(lambda p: qp.math.stack(q(p)))(params),
        qp.jacobian(lambda p: qp.math.stack(ref(p)))(params),
    )
    assert dev.last_gradient_method == "parameter-shift"


def test_adjoint_rejects_shots_with_a_clear_message():
    dev = AerDevice(2, shots=100)
    with pytest.raises(qp.exceptions.QuantumFunctionError, match="does not support adjoint"):
        qp.QNode(lambda x: (qp.RX(x, 0), qp.expval(qp.Z(0)))[1], dev, diff_method="adjoint")(pnp.array(0.1))


@pytest.mark.parametrize("method", ["statevector", "density_matrix", "matrix_product_state"])
def test_every_aer_method_matches_default_qubit(method):
    n = 4
    ops, n_params = random_circuit(n, 25, 11)
    params = pnp.array(np.random.default_rng(5).uniform(-1, 1, n_params), requires_grad=True)
    ours = make_qnode(AerDevice(n, method=method), ops, n, "parameter-shift")
    ref = make_qnode(qp.device("default.qubit", wires=n), ops, n, "backprop")
    close(qp.math.stack(ours(params)), qp.math.stack(ref(params)))
    close(
        qp.jacobian(lambda p: qp.math.stack(ours(p)))(params),
        qp.jacobian(lambda p: qp.math.stack(ref(p)))(params),
    )


def test_shots_agree_within_five_standard_errors():
    n = 3
    shots = 4000
    ops, n_params = random_circuit(n, 20, 4)
    params = np.random.default_rng(2).uniform(-np.pi, np.pi, n_params)
    ours = make_qnode(make_device("aer.shots", n, shots=shots, seed=123), ops, n, "parameter-shift")
    ref = make_qnode(qp.device("default.qubit", wires=n), ops, n, "backprop")
    got = np.asarray(ours(params))
    exact = np.asarray(ref(params))
    # Standard error of a Pauli-word mean is sqrt(1 - <P>^2)/sqrt(shots); a weighted sum adds variances
    # of its (independently measured) commuting groups, bounded by (sum |c|)^2 / shots.
    se = np.array(
        [
            np.sqrt(max(1 - exact[0] ** 2, 1e-3) / shots),
            np.sqrt(max(1 - exact[1] ** 2, 1e-3) / shots),
            (0.5 + 1.3 + 0.2) / np.sqrt(shots),
        ]
    )
    assert np.all(np.abs(got - exact) < 5 * se), (got, exact, se)


def test_samples_have_the_right_shape_and_values():
    dev = make_device("aer.shots", 2, shots=50, seed=1)

    @qp.set_shots(shots=50)
    @qp.qnode(dev)
    def circuit():
        qp.PauliX(1)
        return qp.sample(wires=[0, 1])

    samples = np.asarray(circuit())
    assert samples.shape == (50, 2)
    assert np.all(samples[:, 0] == 0) and np.all(samples[:, 1] == 1)


def test_shot_gradients_are_close_to_exact():
    n = 2
    dev = make_device("aer.shots", n, shots=20000, seed=7)

    def circuit(x):
        qp.RX(x[0], 0)
        qp.CRY(x[1], wires=[0, 1])
        return qp.expval(qp.Z(1))

    x = pnp.array([0.8, 1.1], requires_grad=True)
    got = qp.grad(qp.QNode(circuit, dev, diff_method="parameter-shift"))(x)
    exact = qp.grad(qp.QNode(circuit, qp.device("default.qubit", wires=n)))(x)
    np.testing.assert_allclose(got, exact, atol=0.05)


def test_tracker_counts_aer_executions():
    dev = AerDevice(2)

    @qp.qnode(dev, diff_method="parameter-shift")
    def circuit(x):
        qp.RX(x, 0)
        qp.CNOT([0, 1])
        return qp.expval(qp.Z(1))

    with qp.Tracker(dev) as tracker:
        qp.grad(circuit)(pnp.array(0.3, requires_grad=True))
    # one forward circuit plus two shifted circuits
    assert tracker.totals["executions"] == 3
    assert dev.circuit_executions == 3


def test_sampled_batches_and_their_gradients_run_in_one_aer_call_each():
    n = 3
    dev = make_device("aer.shots", n, shots=2000, seed=11)

    @qp.qnode(dev, diff_method="parameter-shift")
    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.BasicEntanglerLayers(w, wires=range(n))
        return [qp.expval(qp.Z(i)) for i in range(n)]

    x = np.random.default_rng(0).normal(size=(8, n))
    w = pnp.array(np.random.default_rng(1).normal(size=(1, n)), requires_grad=True)
    values = np.stack(circuit(x, w))
    assert dev.aer_calls == 1  # 8 tapes, one sampled run
    exact = np.stack(qp.QNode(circuit.func, qp.device("default.qubit", wires=n))(x, w))
    assert np.all(np.abs(values - exact) < 5 / np.sqrt(2000))
    calls = dev.aer_calls
    qp.jacobian(lambda w: qp.math.stack(circuit(x, w)))(w)
    assert dev.aer_calls == calls + 2  # the forward run, then all 8 x 2 x 3 shifted circuits in one run


@pytest.mark.parametrize("diff_method", ["adjoint", "parameter-shift"])
@pytest.mark.parametrize("device_vjp", [False, True])
def test_broadcast_jacobians_by_inputs_and_weights_match_default_qubit(diff_method, device_vjp):
    n = 3

    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.StronglyEntanglingLayers(w, wires=range(n))
        return qp.expval(qp.Z(0)), qp.expval(qp.X(1) @ qp.Z(2))

    x = pnp.array(np.random.default_rng(0).normal(size=(5, n)), requires_grad=True)
    w = pnp.array(np.random.default_rng(1).normal(size=(1, n, 3)), requires_grad=True)
    ours = qp.QNode(circuit, AerDevice(n), diff_method=diff_method, device_vjp=device_vjp)
    ref = qp.QNode(circuit, qp.device("default.qubit", wires=n), diff_method="backprop")

    def stacked(q):
        return lambda x, w: qp.math.stack(q(x, w))

    close(stacked(ours)(x, w), stacked(ref)(x, w))
    for got, want in zip(qp.jacobian(stacked(ours))(x, w), qp.jacobian(stacked(ref))(x, w), strict=True):
        close(got, want)


def test_a_scalar_energy_is_differentiated_with_its_value_and_a_layer_by_vjp():
    dev = AerDevice(2)
    energy = qp.tape.QuantumScript([qp.RX(0.3, 0)], [qp.expval(qp.Z(0) @ qp.Z(1))])
    readouts = qp.tape.QuantumScript([qp.RX(0.3, 0)], [qp.expval(qp.Z(0)), qp.expval(qp.Z(1))])
    batch = qp.tape.QuantumScript([qp.RX(np.array([0.3, 0.4]), 0)], [qp.expval(qp.Z(0))])
    best = qp.devices.ExecutionConfig(gradient_method="best")
    config = dev.setup_execution_config(best, energy)
    assert config.grad_on_execution is True and config.use_device_jacobian_product is False
    for tape in (readouts, batch):
        config = dev.setup_execution_config(best, tape)
        assert config.grad_on_execution is False and config.use_device_jacobian_product is True
    shots = AerDevice(2, shots=100).setup_execution_config(best, energy)
    assert shots.grad_on_execution is False
