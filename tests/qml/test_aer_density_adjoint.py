"""The density-matrix adjoint (qml/aer/density_adjoint.py) against parameter shift and default.mixed."""

import itertools

import numpy as np
import pennylane as qp
import pytest
import random_circuits  # tests/qml/random_circuits.py, on sys.path through conftest.py
import torch
from pennylane import numpy as pnp
from pennylane.devices import ExecutionConfig
from qiskit_aer.noise import (
    NoiseModel,
    ReadoutError,
    depolarizing_error,
    pauli_error,
    thermal_relaxation_error,
)

from qhybrid.qml import AerDevice, QuantumLayer, make_device
from qhybrid.qml.aer.density_adjoint import noise_allows_adjoint
from qhybrid.qml.noise import noise_model

RTOL, ATOL = 1e-8, 1e-10
P1, P2 = 0.05, 0.1
NOISE = {"depolarizing_1q": P1, "depolarizing_2q": P2}
ADJOINT, SHIFT = (
    ExecutionConfig(gradient_method="adjoint"),
    ExecutionConfig(gradient_method="parameter-shift"),
)

# Gates the device runs natively, with their numbers of parameters and wires, and some it decomposes
# (MultiRZ, U3; CSWAP on the density matrix, where Aer has no cswap).
GATES = [
    (qp.RX, 1, 1), (qp.RY, 1, 1), (qp.RZ, 1, 1), (qp.PhaseShift, 1, 1), (qp.Rot, 3, 1),
    (qp.Hadamard, 0, 1), (qp.S, 0, 1), (qp.T, 0, 1), (qp.SX, 0, 1), (qp.PauliY, 0, 1),
    (qp.CNOT, 0, 2), (qp.CZ, 0, 2), (qp.CY, 0, 2), (qp.SWAP, 0, 2), (qp.IsingXX, 1, 2), (qp.IsingYY, 1, 2),
    (qp.IsingZZ, 1, 2), (qp.CRX, 1, 2), (qp.CRY, 1, 2), (qp.CRZ, 1, 2), (qp.ControlledPhaseShift, 1, 2),
    (qp.MultiRZ, 1, 3), (qp.Toffoli, 0, 3), (qp.CSWAP, 0, 3), (qp.U3, 3, 1),
]  # fmt: skip


def random_circuit(n_wires: int, n_gates: int, seed: int):
    return random_circuits.random_circuit(GATES, n_wires, n_gates, seed)


observables = random_circuits.observables


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=RTOL, atol=ATOL)


def stacked(qnode):
    return lambda *args: qp.math.stack(qnode(*args))


# Qiskit's depolarizing_error(p, k) is rho -> (1 - p) rho + p I / 2**k: PennyLane's DepolarizingChannel(3p/4)
# on one qubit, and on two the Kraus operators sqrt(1 - 15p/16) I and sqrt(p/16) P for the 15 other Paulis.
_PAULIS = [np.eye(2), qp.matrix(qp.X(0)), qp.matrix(qp.Y(0)), qp.matrix(qp.Z(0))]
_KRAUS2 = [np.sqrt(1 - 15 * P2 / 16) * np.eye(4)] + [
    np.sqrt(P2 / 16) * np.kron(a, b) for a, b in list(itertools.product(_PAULIS, _PAULIS))[1:]
]


@qp.transform
def depolarised(tape):
    """The tape with Qiskit's depolarising channels (P1, P2) after every gate, as default.mixed writes them."""
    ops = []
    for op in tape.operations:
        ops.append(op)
        if len(op.wires) == 1:
            ops.append(qp.DepolarizingChannel(3 * P1 / 4, wires=op.wires))
        elif len(op.wires) == 2:
            ops.append(qp.QubitChannel(_KRAUS2, wires=op.wires))
    return [tape.copy(operations=ops)], lambda results: results[0]


def default_mixed(func, n, interface="autograd"):
    """``func`` on default.mixed with the channels after each of the device's native gates (Rot is three)."""
    qnode = qp.QNode(func, qp.device("default.mixed", wires=n), interface=interface, diff_method="backprop")
    gates = {"RX", "RY", "RZ", "PhaseShift", "Hadamard", "S", "T", "SX", "PauliY", "CNOT", "CZ", "SWAP"}
    return depolarised(qp.transforms.decompose(qnode, gate_set=gates | {"IsingXX", "IsingYY", "IsingZZ"}))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("device_vjp", [False, True])
def test_random_circuits_match_parameter_shift(seed, device_vjp):
    n = 4
    ops, n_params = random_circuit(n, 25, seed)
    params = pnp.array(np.random.default_rng(seed + 10).uniform(-np.pi, np.pi, n_params), requires_grad=True)

    def circuit(p):
        ops(p)
        return [qp.expval(o) for o in observables(n)]

    dev = make_device("aer.density", n, noise=NOISE)
    ours = qp.QNode(circuit, dev, diff_method="adjoint", device_vjp=device_vjp)
    ref = qp.QNode(circuit, make_device("aer.density", n, noise=NOISE), diff_method="parameter-shift")
    close(qp.jacobian(stacked(ours))(params), qp.jacobian(stacked(ref))(params))
    assert dev.last_gradient_method == "adjoint"


def test_broadcast_jacobians_match_default_mixed():
    n = 3

    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        for i in range(n):
            qp.Rot(*w[i], wires=i)
            qp.PhaseShift(w[i, 0], wires=(i + 1) % n)  # a parameter driving two gates
        qp.IsingXX(w[0, 1], wires=[0, 1])
        qp.S(1), qp.T(2), qp.SX(0), qp.Hadamard(2), qp.PauliY(1)
        qp.CNOT([0, 1]), qp.CZ([1, 2]), qp.SWAP([0, 2])
        qp.IsingYY(w[1, 2], wires=[1, 2]), qp.IsingZZ(w[2, 0], wires=[2, 0])
        qp.RY(0.3, wires=1)  # not trainable
        return qp.expval(qp.Z(0)), qp.expval(0.4 * qp.X(1) @ qp.Y(2) - 0.8 * qp.Z(2))

    x = pnp.array(np.random.default_rng(0).normal(size=(5, n)), requires_grad=True)
    w = pnp.array(np.random.default_rng(1).normal(size=(n, 3)), requires_grad=True)
    dev = make_device("aer.density", n, noise=NOISE)
    ours = qp.QNode(circuit, dev, diff_method="adjoint")
    ref = default_mixed(circuit, n)
    close(stacked(ours)(x, w), stacked(ref)(x, w))
    for got, want in zip(qp.jacobian(stacked(ours))(x, w), qp.jacobian(stacked(ref))(x, w), strict=True):
        close(got, want)
    assert dev.last_gradient_method == "adjoint"


def layer_step(layer, x, cotangent):
    x = x.clone().requires_grad_(True)
    out = layer(x)
    (out * cotangent).sum().backward()
    return out.detach(), x.grad, layer.weights.grad


@pytest.mark.parametrize("uniform", [False, True])
def test_quantum_layer_gradients_match_parameter_shift_and_default_mixed(uniform):
    n, batch = 3, 6
    x = torch.rand(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    cot = (torch.ones(batch, n) if uniform else torch.rand(batch, n, generator=gen)).to(torch.float64)
    ours = QuantumLayer(n, n_layers=2, backend="aer.density", noise=NOISE, seed=3)
    shift = QuantumLayer(
        n, n_layers=2, backend="aer.density", noise=NOISE, seed=3, diff_method="parameter-shift"
    )
    got, want = layer_step(ours, x, cot), layer_step(shift, x, cot)
    assert ours.device.last_gradient_method == "adjoint"
    assert shift.device.last_gradient_method == "parameter-shift"
    for a, b in zip(got, want, strict=True):
        close(a, b)

    # default.mixed under autograd (its torch interface runs the channels in single precision)
    mixed = default_mixed(ours.circuit, n)
    cot_np = cot.numpy()

    def loss(x, w):
        return qp.math.sum(qp.math.stack(mixed(x, w), axis=-1) * cot_np)

    x_np = pnp.array(x.numpy(), requires_grad=True)
    w_np = pnp.array(ours.weights.detach().numpy(), requires_grad=True)
    close(got[0], np.stack(mixed(x_np, w_np), axis=-1))
    for a, b in zip(got[1:], qp.grad(loss)(x_np, w_np), strict=True):
        close(a, b)


@pytest.mark.parametrize("batch", [4, 16])
def test_training_step_is_two_aer_calls_whatever_the_batch(batch):
    layer = QuantumLayer(3, n_layers=2, backend="aer.density", noise=NOISE, seed=0)
    x = torch.rand(batch, 3, dtype=torch.float64)
    calls = layer.device.aer_calls
    layer_step(layer, x, torch.rand(batch, 3, dtype=torch.float64))
    # the forward run keeps its matrices at the trainable rotations, the VJP runs the reversed circuits
    assert layer.device.aer_calls - calls == 2
    assert layer.device.last_gradient_method == "adjoint"


def test_tapes_with_different_coefficients_in_one_batch():
    n = 2
    ops = [qp.RX(0.3, 0), qp.RY(-0.8, 1), qp.CNOT([0, 1]), qp.RZ(1.2, 1), qp.IsingXX(0.5, [0, 1])]
    words = [qp.Z(0) @ qp.X(1), qp.Y(0), qp.X(1)]
    tapes = [
        qp.tape.QuantumScript(ops, [qp.expval(qp.dot(c, words))], trainable_params=[0, 1, 2, 3])
        for c in ([0.5, -1.0, 0.25], [2.0, 0.1, -0.7], [0.0, 1.0, 1.0])
    ]
    dev = make_device("aer.density", n, noise=NOISE)
    for got, want in zip(
        dev.compute_derivatives(tapes, ADJOINT), dev.compute_derivatives(tapes, SHIFT), strict=True
    ):
        close(got, want)
    cots = [0.3, -1.1, 2.0]
    calls = dev.aer_calls
    vjps = dev.compute_vjp(tapes, cots, ADJOINT)
    assert dev.aer_calls == calls + 1  # the forward and the reversed circuits in one job
    for got, want in zip(vjps, dev.compute_vjp(tapes, cots, SHIFT), strict=True):
        close(got, want)


def test_single_output_with_per_sample_cotangents():
    n = 3

    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.StronglyEntanglingLayers(w, wires=range(n))
        return qp.expval(qp.Z(0) @ qp.Z(2))

    x = torch.rand(7, n, dtype=torch.float64, requires_grad=True)
    w = torch.rand(1, n, 3, dtype=torch.float64, requires_grad=True)
    cot = torch.linspace(-1, 2, 7, dtype=torch.float64)
    grads = []
    for method in ("adjoint", "parameter-shift"):
        qnode = qp.QNode(
            circuit, make_device("aer.density", n, noise=NOISE), diff_method=method, device_vjp=True
        )
        x.grad = w.grad = None
        (qnode(x, w) * cot).sum().backward()
        grads.append((x.grad.clone(), w.grad.clone()))
    for a, b in zip(*grads, strict=True):
        close(a, b)


def test_without_noise_matches_default_qubit():
    n = 3
    ops, n_params = random_circuit(n, 20, 5)
    params = pnp.array(np.random.default_rng(4).uniform(-1, 1, n_params), requires_grad=True)

    def circuit(p):
        ops(p)
        return [qp.expval(o) for o in observables(n)]

    dev = AerDevice(n, method="density_matrix")
    ours = qp.QNode(circuit, dev, diff_method="best")
    ref = qp.QNode(circuit, qp.device("default.qubit", wires=n), diff_method="backprop")
    close(qp.jacobian(stacked(ours))(params), qp.jacobian(stacked(ref))(params))
    assert dev.last_gradient_method == "adjoint"


def test_thermal_relaxation_falls_back_to_parameter_shift():
    t1, t2, g1, g2 = 50e-6, 70e-6, 50e-9, 300e-9

    def circuit(x, channel=lambda wire, time: None):
        qp.RX(x[0], 0), channel(0, g1)
        qp.RY(x[1], 1), channel(1, g1)
        qp.CNOT([0, 1]), channel(0, g2), channel(1, g2)
        qp.RZ(x[2], 1), channel(1, g1)
        qp.Hadamard(1), channel(1, g1)
        return qp.expval(qp.Z(0) @ qp.Y(1)), qp.expval(qp.X(1))

    def relax(wire, time):
        qp.ThermalRelaxationError(0.0, t1, t2, time, wires=wire)

    x = pnp.array([0.4, 1.1, -0.7], requires_grad=True)
    dev = make_device("aer.density", 2, noise={"t1": t1, "t2": t2})
    ours = qp.QNode(circuit, dev, diff_method="best")
    ref = qp.QNode(lambda x: circuit(x, relax), qp.device("default.mixed", wires=2), diff_method="backprop")
    close(qp.jacobian(stacked(ours))(x), qp.jacobian(stacked(ref))(x))
    assert dev.last_gradient_method == "parameter-shift"
    with pytest.raises(qp.exceptions.QuantumFunctionError, match="adjoint"):
        qp.QNode(circuit, dev, diff_method="adjoint")
    tape = qp.tape.QuantumScript([qp.RX(0.3, 0)], [qp.expval(qp.Z(0))])
    with pytest.raises(ValueError, match="depolarising noise only"):
        dev.compute_derivatives(tape, ADJOINT)


@pytest.mark.parametrize("budget", [1, 64 * 1024])
def test_small_adjoint_memory(budget):
    """No room for one row: parameter shift; room for a row or two: the adjoint in chunks of rows."""
    n = 3

    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.BasicEntanglerLayers(w, wires=range(n))
        return [qp.expval(qp.Z(i)) for i in range(n)]

    x = pnp.array(np.random.default_rng(0).normal(size=(6, n)), requires_grad=False)
    w = pnp.array(np.random.default_rng(1).normal(size=(2, n)), requires_grad=True)
    dev = make_device("aer.density", n, noise=NOISE, adjoint_memory=budget)
    ref = qp.QNode(circuit, make_device("aer.density", n, noise=NOISE), diff_method="parameter-shift")
    ours = qp.QNode(circuit, dev, diff_method="device")
    close(qp.jacobian(stacked(ours))(x, w), qp.jacobian(stacked(ref))(x, w))
    if budget == 1:
        assert dev.last_gradient_method == "parameter-shift"
    else:
        assert dev.last_gradient_method == "adjoint" and dev.aer_calls > 3


def _all_qubit(*pairs):
    """A model with each ``(error, gate names)`` on every qubit."""
    model = NoiseModel()
    for error, names in pairs:
        model.add_all_qubit_quantum_error(error, names)
    return model


def _local_depolarising():
    model = NoiseModel()
    model.add_quantum_error(depolarizing_error(0.02, 1), ["rx", "sx", "sxdg"], [0])
    model.add_quantum_error(depolarizing_error(0.03, 2), ["cx"], [0, 1])
    return model


def _readout():
    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.1, 0.9]]))
    return model


DEP1 = depolarizing_error(0.1, 1)
MODELS = {
    "ideal": (None, True),
    "depolarising": (noise_model({"depolarizing_1q": 0.01, "depolarizing_2q": 0.02}), True),
    "local depolarising": (_local_depolarising(), True),
    "thermal relaxation": (noise_model({"t1": 50e-6, "t2": 70e-6}), False),
    "depolarising and relaxation": (noise_model({"depolarizing_1q": 0.01, "t1": 50e-6, "t2": 70e-6}), False),
    "readout": (_readout(), False),
    "bit flip (a Pauli channel)": (_all_qubit((pauli_error([("X", 0.1), ("I", 0.9)]), ["rx"])), False),
    "amplitude damping": (_all_qubit((thermal_relaxation_error(1, 1, 0.1), ["h"])), False),
    "one-qubit errors on a two-qubit gate": (_all_qubit((DEP1.tensor(DEP1), ["cx"])), False),
    "s without sdg": (_all_qubit((DEP1, ["s"])), False),
    "t and tdg differ": (_all_qubit((DEP1, ["t"]), (depolarizing_error(0.2, 1), ["tdg"])), False),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_where_the_adjoint_applies(name):
    model, allowed = MODELS[name]
    assert noise_allows_adjoint(model) is allowed
    assert AerDevice(2, method="density_matrix", noise_model=model)._adjoint_possible() is allowed


def test_a_model_changed_after_its_check_is_checked_again():
    model = noise_model({"depolarizing_1q": 0.01})
    assert noise_allows_adjoint(model)
    model.add_all_qubit_quantum_error(thermal_relaxation_error(50e-6, 70e-6, 50e-9), ["rx"])
    assert not noise_allows_adjoint(model)
