"""Finite shots on the Aer device: shapes as default.qubit's, estimates within 5 standard errors of exact."""

import numpy as np
import pennylane as qp
import pytest
from pennylane import numpy as pnp

from qhybrid.qml import make_device
from qhybrid.qml.noise import noise_model


def _measurements():
    return (
        qp.sample(wires=0),
        qp.sample(wires=[0, 1]),
        qp.sample(qp.X(1)),
        qp.sample(qp.Y(0) @ qp.X(2)),
        qp.counts(wires=[0, 1]),
        qp.counts(qp.Z(0)),
        qp.counts(qp.Z(0), all_outcomes=True),
        qp.expval(qp.X(2)),
        qp.var(qp.Z(0) @ qp.Z(1)),
        qp.probs(wires=[2, 0]),
        qp.sample(qp.Hermitian(np.diag([1.0, 2.0]), 2)),  # no Pauli word: PennyLane's diagonalisation
    )


def _entangler():
    qp.Hadamard(0)
    qp.CNOT([0, 1])
    qp.RY(0.3, 2)
    return _measurements()


def _kind(x):
    if isinstance(x, dict):
        return ("dict", sorted(type(k).__name__ for k in x), sum(x.values()))
    return (type(x).__name__, np.shape(x), np.asarray(x).dtype)


def test_sample_and_counts_match_default_qubit_shapes_and_types():
    ours = qp.QNode(_entangler, make_device("aer.shots", 3, shots=20, seed=1))()
    ref = qp.set_shots(qp.QNode(_entangler, qp.device("default.qubit", wires=3, seed=1)), 20)()
    assert [_kind(x) for x in ours] == [_kind(y) for y in ref]


def test_samples_of_one_basis_share_shots():
    # Bell pair: wires 0 and 1 always agree, in every shot of every measurement drawn from the Z basis
    ours = qp.QNode(_entangler, make_device("aer.shots", 3, shots=200, seed=2))()
    pairs = np.asarray(ours[1])
    assert np.all(pairs[:, 0] == pairs[:, 1]) and 0 < pairs[:, 0].sum() < 200
    assert set(ours[4]) <= {"00", "11"} and ours[8] == 0.0  # Z0 Z1 = +1 in every shot: no variance


def test_shot_vectors_and_broadcasting_match_default_qubit_layout():
    def circuit(x):
        qp.RX(x, 0)
        return qp.expval(qp.Z(0)), qp.probs(wires=[0])

    x = np.array([0.1, 0.5, 1.0])
    shots = [(500, 2), 100]
    ours = qp.set_shots(qp.QNode(circuit, make_device("aer.shots", 2, shots=10, seed=0)), shots)(x)
    ref = qp.set_shots(qp.QNode(circuit, qp.device("default.qubit", wires=2)), shots)(x)
    assert len(ours) == len(ref) == 3
    for o, r in zip(ours, ref, strict=True):
        assert [np.shape(v) for v in o] == [np.shape(v) for v in r]
        assert np.all(np.abs(o[0] - np.cos(x)) < 5 * np.sin(x) / np.sqrt(100) + 1e-9)


def _layer(x, w, n):
    qp.AngleEmbedding(x, wires=range(n))
    qp.StronglyEntanglingLayers(w, wires=range(n))


def _estimates(n):
    return [
        qp.expval(0.5 * qp.Z(0) @ qp.Z(n - 1) - 1.3 * qp.X(1) + 0.2 * qp.Y(0) @ qp.X(1)),
        qp.var(qp.X(0) @ qp.Y(2)),
        qp.probs(wires=[1, 0]),
    ]


@pytest.mark.parametrize(
    "backend, noise",
    [
        ("aer.shots", None),  # exact probabilities drawn in numpy
        (
            "aer.density",
            {"depolarizing_1q": 0.05, "depolarizing_2q": 0.05},
        ),  # noisy probabilities, numpy draws
        ("aer.shots", {"depolarizing_1q": 0.05, "depolarizing_2q": 0.05}),  # Aer's trajectories and counts
        ("aer.mps", None),  # Aer's sampler
    ],
)
def test_sampled_estimates_within_five_standard_errors(backend, noise):
    n, shots = 3, 4000
    rng = np.random.default_rng(3)
    x, w = rng.uniform(0, np.pi, (4, n)), rng.uniform(0, 2 * np.pi, (1, n, 3))

    def circuit(x, w):
        _layer(x, w, n)
        return _estimates(n)

    exact_name = "aer.density" if noise else "default"
    exact = qp.QNode(
        circuit, make_device(exact_name, n, noise=noise) if noise else qp.device("default.qubit", wires=n)
    )
    got = qp.set_shots(qp.QNode(circuit, make_device(backend, n, shots=shots, seed=5, noise=noise)), shots)(
        x, w
    )
    want = exact(x, w)
    # a weighted sum of independently sampled Pauli means: variance at most (sum |c|)^2 / shots
    assert np.all(np.abs(got[0] - want[0]) < 5 * 2.0 / np.sqrt(shots))
    # the sample variance of a +-1 variable deviates by at most ~ sqrt(var(X^2 - ...)) <= 2 / sqrt(shots)
    assert np.all(np.abs(got[1] - want[1]) < 5 * 2.0 / np.sqrt(shots))
    p = np.asarray(want[2])
    assert np.all(np.abs(np.asarray(got[2]) - p) < 5 * np.sqrt(p * (1 - p) / shots) + 1e-9)


def test_sampled_broadcast_gradient_within_five_standard_errors():
    n, shots = 3, 20000
    rng = np.random.default_rng(4)
    x = rng.uniform(0, np.pi, (3, n))
    w = pnp.array(rng.uniform(0, 2 * np.pi, (1, n, 3)), requires_grad=True)

    def circuit(x, w):
        _layer(x, w, n)
        return qp.expval(qp.Z(0) @ qp.Z(1))

    dev = make_device("aer.shots", n, shots=shots, seed=6)
    got = qp.jacobian(qp.QNode(circuit, dev, diff_method="parameter-shift"))(x, w)
    want = qp.jacobian(qp.QNode(circuit, qp.device("default.qubit", wires=n)))(x, w)
    # each derivative is r (f+ - f-) of two independent means: standard error <= sqrt(2) / (2 sqrt(shots))
    assert np.shape(got) == np.shape(want)
    assert np.all(np.abs(got - want) < 5 * np.sqrt(2) / (2 * np.sqrt(shots)))


def test_seeded_devices_repeat_their_samples():
    def circuit():
        qp.Hadamard(0)
        qp.RX(0.4, 1)
        return qp.sample(wires=[0, 1])

    a = qp.QNode(circuit, make_device("aer.shots", 2, shots=30, seed=9))()
    b = qp.QNode(circuit, make_device("aer.shots", 2, shots=30, seed=9))()
    np.testing.assert_array_equal(a, b)


def test_readout_noise_flips_sampled_bits():
    model = noise_model({"readout": 0.2})
    dev = make_device("aer.density", 1, shots=4000, seed=1, noise={"readout": 0.2})
    assert "measure" in model.noise_instructions

    @qp.qnode(dev)
    def circuit():
        return qp.expval(qp.Z(0))

    # |0> read as 1 with probability 0.2: <Z> = 0.6, standard error sqrt(1 - 0.36) / sqrt(4000)
    assert abs(circuit() - 0.6) < 5 * 0.8 / np.sqrt(4000)
