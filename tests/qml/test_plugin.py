"""qhybrid's Aer device reached the PennyLane way: qml.device("qhybrid.aer", ...) through the entry point."""

import numpy as np
import pennylane as qp
import pytest
import torch

from qhybrid.qml.aer import AerDevice


def test_the_entry_point_builds_our_device():
    dev = qp.device("qhybrid.aer", wires=3, method="density_matrix", seed=1)
    assert isinstance(dev, AerDevice) and dev.method == "density_matrix" and len(dev.wires) == 3


def test_device_shots_and_set_shots_follow_pennylane():
    def circuit():
        qp.Hadamard(0)
        return qp.sample(wires=0)

    dev = qp.device("qhybrid.aer", wires=1, shots=20, seed=0)
    assert dev.shots == qp.measurements.Shots(20)
    assert qp.QNode(circuit, dev)().shape == (20, 1)
    assert qp.set_shots(qp.QNode(circuit, dev), 7)().shape == (7, 1)


@pytest.mark.parametrize("diff_method", ["adjoint", "parameter-shift", "best"])
def test_torch_layer_gradients_match_default_qubit(diff_method):
    n = 3

    def circuit(inputs, weights):
        qp.AngleEmbedding(inputs, wires=range(n))
        qp.BasicEntanglerLayers(weights, wires=range(n))
        return [qp.expval(qp.Z(i)) for i in range(n)]

    x = torch.tensor(np.random.default_rng(0).uniform(0, 1, (4, n)))
    grads = []
    for dev, method in (
        (qp.device("qhybrid.aer", wires=n), diff_method),
        (qp.device("default.qubit", wires=n), "backprop"),
    ):
        layer = qp.qnn.TorchLayer(qp.QNode(circuit, dev, diff_method=method), {"weights": (2, n)})
        with torch.no_grad():
            layer.weights.copy_(torch.linspace(0.1, 1.2, 2 * n).reshape(2, n))
        layer.weights.data = layer.weights.data.double()
        layer(x).sum().backward()
        grads.append(layer.weights.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-10)


def test_the_tracker_counts_our_executions():
    dev = qp.device("qhybrid.aer", wires=2)

    @qp.qnode(dev)
    def circuit(x):
        qp.RX(x, 0)
        return qp.expval(qp.Z(0))

    with qp.Tracker(dev) as tracker:
        circuit(np.array([0.1, 0.2, 0.3]))
    assert tracker.totals["executions"] == 3 and tracker.totals["aer_calls"] == 1


def test_the_plugin_takes_noise_as_make_device_does():
    def circuit():
        qp.RX(0.0, 0)
        return qp.expval(qp.Z(0))

    dev = qp.device("qhybrid.aer", wires=1, method="density_matrix", noise={"depolarizing_1q": 0.1})
    assert qp.QNode(circuit, dev)() == pytest.approx(0.9, abs=1e-12)  # <Z> x (1 - p)
    readout = qp.device("qhybrid.aer", wires=1, method="density_matrix", noise={"readout": 0.2}, seed=1)
    sampled = qp.set_shots(qp.QNode(circuit, readout), 4000)()  # readout errors act on sampled bits only
    assert abs(sampled - 0.6) < 5 * 0.8 / np.sqrt(4000)
    with pytest.raises(ValueError, match="not both"):
        AerDevice(1, noise={"depolarizing_1q": 0.1}, noise_model=dev.noise_model)
