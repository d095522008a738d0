"""Noise specs become Aer noise models that move results the way physics says."""

import numpy as np
import pennylane as qp
import pytest

from qhybrid.qml import NoiseSpec, make_device


def z_after_x_rotation(dev, angle=0.4):
    @qp.qnode(dev)
    def circuit():
        qp.RX(angle, 0)
        return qp.expval(qp.Z(0))

    return float(circuit())


def test_depolarising_shrinks_z_by_the_exact_factor():
    p = 0.1
    exact = z_after_x_rotation(make_device("aer.density", 1))
    noisy = z_after_x_rotation(make_device("aer.density", 1, noise={"depolarizing_1q": p}))
    # Aer's depolarising channel with parameter p maps <Z> to (1 - p) <Z> for one qubit
    np.testing.assert_allclose(noisy, (1 - p) * exact, rtol=1e-10)
    assert abs(noisy) < abs(exact)


def test_two_qubit_depolarising_reduces_correlations():
    def zz(dev):
        @qp.qnode(dev)
        def circuit():
            qp.Hadamard(0)
            qp.CNOT([0, 1])
            return qp.expval(qp.Z(0) @ qp.Z(1))

        return float(circuit())

    assert zz(make_device("aer.density", 2)) == pytest.approx(1.0)
    noisy = zz(make_device("aer.density", 2, noise={"depolarizing_2q": 0.2}))
    assert 0.5 < noisy < 0.9


def test_thermal_relaxation_pulls_towards_ground_state():
    def z_of_excited(dev):
        @qp.qnode(dev)
        def circuit():
            qp.PauliX(0)
            for _ in range(20):
                qp.RZ(0.0, 0)
            return qp.expval(qp.Z(0))

        return float(circuit())

    assert z_of_excited(make_device("aer.density", 1)) == pytest.approx(-1.0)
    relaxed = z_of_excited(make_device("aer.density", 1, noise=NoiseSpec(t1=1e-6, t2=1e-6)))
    # 21 gates of 50 ns: the excited population decays as exp(-t / T1), so <Z> = 1 - 2 exp(-t / T1)
    np.testing.assert_allclose(relaxed, 1 - 2 * np.exp(-21 * 50e-9 / 1e-6), rtol=1e-9)


def test_readout_error_flips_sampled_bits():
    dev = make_device("aer.shots", 1, shots=4000, seed=3, noise={"readout": 0.1})

    @qp.qnode(dev)
    def circuit():
        return qp.expval(qp.Z(0))

    # |0> read with 10 % flips: <Z> = 0.8 within 5 standard errors
    assert abs(float(circuit()) - 0.8) < 5 * np.sqrt((1 - 0.64) / 4000)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"depolarizing_1q": 1.5}, r"noise depolarizing_1q must be in \[0, 1\], got 1.5"),
        ({"readout": 0.7}, r"noise readout must be in \[0, 0.5\], got 0.7"),
        ({"t1": 1e-6}, "t1 and t2 must be given together"),
        ({"t1": 1e-6, "t2": 5e-6}, "t2 <= 2\\*t1"),
        ({"depolarising": 0.1}, r"unknown noise keys \['depolarising'\]; allowed"),
    ],
)
def test_bad_specs_fail_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        make_device("aer.density", 1, noise=spec)


def test_noise_of_the_wrong_type():
    with pytest.raises(TypeError, match="noise must be a NoiseSpec"):
        make_device("aer.density", 1, noise=0.1)


def test_an_aer_noise_model_is_used_as_it_is():
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["rx"])

    def circuit():
        qp.RX(0.0, 0)
        return qp.expval(qp.Z(0))

    dev = make_device("aer.density", 1, noise=model)
    assert dev.noise_model is model
    assert qp.QNode(circuit, dev)() == pytest.approx(0.9, abs=1e-12)  # <Z> x (1 - p)
    assert make_device("aer.density", 1, noise=NoiseModel()).noise_model is None  # ideal: no noise


def test_an_aer_noise_model_with_readout_needs_shots():
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.1, 0.9]]))
    with pytest.raises(ValueError, match="readout errors act only on sampled measurements"):
        make_device("aer.density", 1, noise=model)
    with pytest.raises(ValueError, match="cannot take a noise model"):
        make_device("aer", 1, noise=model)


def _channel_circuit(x, w):
    qp.RX(x, wires=0)
    qp.RY(w[0], wires=1)
    qp.CNOT([0, 1])
    qp.AmplitudeDamping(0.3, wires=0)
    qp.CRX(w[1], wires=[1, 2])
    qp.DepolarizingChannel(0.1, wires=2)
    qp.PauliError("XZ", 0.2, wires=[0, 2])
    flip = np.kron(np.array([[0, 1], [1, 0]]), np.eye(2))
    qp.QubitChannel([np.sqrt(0.7) * np.eye(4), np.sqrt(0.3) * flip], wires=[1, 2])
    qp.ThermalRelaxationError(0.1, 5.0, 4.0, 0.5, wires=1)
    return qp.expval(qp.Z(0) @ qp.Z(2)), qp.expval(qp.X(1)), qp.probs(wires=[0, 2])


def test_pennylane_channels_run_on_the_mixed_device_as_on_default_mixed():
    import torch

    x = torch.tensor(0.4, dtype=torch.float64)
    results = []
    for device in (qp.device("qhybrid.aer.mixed", wires=3), qp.device("default.mixed", wires=3)):
        w = torch.tensor([0.3, 1.1], dtype=torch.float64, requires_grad=True)
        values = torch.cat(
            [v.reshape(-1) for v in qp.QNode(_channel_circuit, device, interface="torch")(x, w)]
        )
        (grad,) = torch.autograd.grad((values * torch.arange(1.0, 7.0, dtype=torch.float64)).sum(), w)
        results.append((values.detach().numpy(), grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    np.testing.assert_allclose(ours, theirs, atol=1e-10)
    np.testing.assert_allclose(our_grad, their_grad, atol=1e-8)


def test_a_pennylane_noise_model_on_aer_density_equals_add_noise_on_default_mixed():
    model = qp.NoiseModel({qp.noise.op_eq(qp.CNOT): qp.noise.partial_wires(qp.PhaseDamping, 0.2)})
    ours = qp.QNode(_channel_circuit, make_device("aer.density", 3, noise=model))(0.4, np.array([0.3, 1.1]))
    reference = qp.add_noise(
        qp.QNode(_channel_circuit, qp.device("default.mixed", wires=3)), model, level="device"
    )
    theirs = reference(0.4, np.array([0.3, 1.1]))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10)
    with pytest.raises(qp.exceptions.DeviceError, match="AmplitudeDamping"):  # no channels on a statevector
        qp.QNode(_channel_circuit, qp.device("qhybrid.aer", wires=3))(0.4, np.array([0.3, 1.1]))


def test_a_trainable_channel_parameter_is_refused_on_the_mixed_device():
    import torch

    def circuit(p):
        qp.RX(0.3, wires=0)
        qp.DepolarizingChannel(p, wires=0)
        return qp.expval(qp.Z(0))

    p = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="a channel's parameters are not differentiable on the Aer device"):
        qp.QNode(circuit, qp.device("qhybrid.aer.mixed", wires=1), interface="torch")(p).backward()
