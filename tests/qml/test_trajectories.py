"""The trajectory engine (torch.trajectories): Pauli noise as the mean of pure-state trajectories, against
the density engine's exact values and gradients, within the stated statistical error."""

import numpy as np
import pennylane as qp
import pytest
import torch

from qhybrid.qml import QuantumLayer
from qhybrid.qml.engine import CompiledCircuit, DensityCircuit, NotTraceable, TrajectoryCircuit
from qhybrid.qml.engine.superops import ptm
from qhybrid.qml.engine.trajectories import pauli_probabilities
from qhybrid.qml.noise import NoiseSpec, noise_model

N = 3


def _circuit(x, w):
    qp.AngleEmbedding(x, wires=range(N))
    qp.StronglyEntanglingLayers(w, wires=range(N))
    qp.CRX(w[0, 0, 1], wires=[2, 0])  # Aer runs it as five gates, each followed by its error
    qp.BitFlip(0.1, wires=1)
    qp.PauliError("XZ", 0.05, wires=[0, 2])
    return [qp.expval(qp.Z(0)), qp.expval(qp.Z(1) @ qp.Z(2))]


def _inputs():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, N, dtype=torch.float64, generator=g) * 3
    w = torch.rand(2, N, 3, dtype=torch.float64, generator=g) * 3
    return x, w


def _value_and_grad(circuit, x, w):
    w = w.clone().requires_grad_()
    out = circuit(x, w)
    out.sum().backward()
    return out.detach(), w.grad


def test_pauli_probabilities_of_known_channels():
    p = 0.12
    depolarising = ptm([np.sqrt(1 - 3 * p / 4) * np.eye(2)] + [np.sqrt(p / 4) * m for m in _paulis()[1:]])
    np.testing.assert_allclose(pauli_probabilities(depolarising, "x"), [1 - 3 * p / 4, p / 4, p / 4, p / 4])
    flip = ptm(qp.PhaseFlip(0.3, wires=0).kraus_matrices())
    np.testing.assert_allclose(pauli_probabilities(flip, "x"), [0.7, 0, 0, 0.3], atol=1e-15)
    two = ptm(qp.PauliError("XY", 0.2, wires=[0, 1]).kraus_matrices())
    expected = np.zeros(16)
    expected[0], expected[4 * 1 + 2] = 0.8, 0.2  # I I and X Y, first qubit most significant
    np.testing.assert_allclose(pauli_probabilities(two, "x"), expected, atol=1e-15)
    with pytest.raises(NotTraceable, match="AmplitudeDamping on wires"):
        pauli_probabilities(
            ptm(qp.AmplitudeDamping(0.2, wires=0).kraus_matrices()), "AmplitudeDamping on wires"
        )


def _paulis():
    return [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])]


def test_values_and_gradients_equal_the_density_matrix_within_their_error():
    model = noise_model(NoiseSpec(depolarizing_1q=0.04, depolarizing_2q=0.1))
    x, w = _inputs()
    exact, exact_grad = _value_and_grad(DensityCircuit(_circuit, N, N, (2, N, 3), noise_model=model), x, w)
    circuit = TrajectoryCircuit(_circuit, N, N, (2, N, 3), model, 4000, seed=0)
    value, grad = _value_and_grad(circuit, x, w)
    error = circuit.last_standard_error
    assert torch.all(error > 0) and torch.all(error < 0.02)
    assert torch.all((value - exact).abs() < 5 * error + 1e-12), (value - exact) / error
    # the gradient is the mean of the trajectories' exact gradients: unbiased, and close at 4000 of them
    np.testing.assert_allclose(grad.numpy(), exact_grad.numpy(), atol=0.04)
    assert np.corrcoef(grad.flatten().numpy(), exact_grad.flatten().numpy())[0, 1] > 0.99


def test_without_noise_every_trajectory_is_the_exact_state():
    def clean(x, w):
        qp.AngleEmbedding(x, wires=range(N))
        qp.StronglyEntanglingLayers(w, wires=range(N))
        return [qp.expval(qp.Z(i)) for i in range(N)]

    x, w = _inputs()
    circuit = TrajectoryCircuit(clean, N, N, (2, N, 3), None, 3, seed=1)
    assert circuit.program.sites == [] and circuit.frame
    value, grad = _value_and_grad(circuit, x, w)
    exact, exact_grad = _value_and_grad(CompiledCircuit(clean, N, N, (2, N, 3)), x, w)
    np.testing.assert_allclose(value.numpy(), exact.numpy(), atol=1e-13)
    np.testing.assert_allclose(grad.numpy(), exact_grad.numpy(), atol=1e-13)
    assert torch.all(circuit.last_standard_error == 0)


def test_a_seed_fixes_the_trajectories_and_a_pennylane_noise_model_is_taken():
    x, w = _inputs()
    model = qp.NoiseModel({qp.noise.op_eq("CNOT"): qp.noise.partial_wires(qp.DepolarizingChannel, 0.1)})
    a = TrajectoryCircuit(_circuit, N, N, (2, N, 3), model, 50, seed=7)(x, w)
    b = TrajectoryCircuit(_circuit, N, N, (2, N, 3), model, 50, seed=7)(x, w)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    exact = DensityCircuit(_circuit, N, N, (2, N, 3), noise_model=model)(x, w)
    assert torch.all((a - exact).abs() < 0.3)


def test_the_backend_needs_shots_and_pauli_noise():
    layer = QuantumLayer(
        N, n_layers=1, backend="torch.trajectories", shots=20, noise={"depolarizing_1q": 0.02}, seed=0
    )
    out = layer(torch.rand(4, N, dtype=torch.float64))
    assert out.shape == (4, N) and layer.engine_backend == "torch.trajectories"
    assert layer(torch.zeros(0, N, dtype=torch.float64)).shape == (0, N)  # an empty batch is a valid one
    with pytest.raises(ValueError, match="needs shots > 0.*'torch.density' for exact noise"):
        QuantumLayer(N, backend="torch.trajectories", noise={"depolarizing_1q": 0.02})
    relax = {"t1": 5e-6, "t2": 4e-6, "gate_time_1q": 5e-8, "gate_time_2q": 3e-7}
    with pytest.raises(NotTraceable, match="not a Pauli channel.*torch.density"):
        QuantumLayer(N, backend="torch.trajectories", shots=10, noise=relax)
    with pytest.raises(ValueError, match="trajectories must be a positive integer"):
        TrajectoryCircuit(_circuit, N, N, (2, N, 3), None, 0)


def test_chunks_give_the_values_and_gradients_of_one_call(monkeypatch):
    """Past CHUNK_BYTES of states the rows run in chunks, again in the backward pass: the same numbers."""
    from qhybrid.qml.engine import trajectories

    model = noise_model(NoiseSpec(depolarizing_1q=0.04, depolarizing_2q=0.1))
    x, w = _inputs()
    results = []
    for chunk in (1 << 28, 16 * 2**N * 7):  # one call, then 7 rows a call
        monkeypatch.setattr(trajectories, "CHUNK_BYTES", chunk)
        circuit = TrajectoryCircuit(_circuit, N, N, (2, N, 3), model, 20, seed=3)
        xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = circuit(xi, wi)
        (out * torch.tensor([[1.0, -2.0]], dtype=torch.float64)).sum().backward()
        results.append((out.detach(), xi.grad, wi.grad))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-13)


def test_a_pauli_frame_gives_the_trajectories_of_inserted_paulis(monkeypatch):
    """The frame (rotation signs, observable signs) is an exact rewriting of the inserted Paulis: with the
    same seed, the same draws give the same estimates as the circuit with the Paulis as gates."""
    from qhybrid.qml.engine import trajectories

    model = noise_model(NoiseSpec(depolarizing_1q=0.05, depolarizing_2q=0.1))
    x, w = _inputs()
    framed = TrajectoryCircuit(_circuit, N, N, (2, N, 3), model, 300, seed=11)
    assert framed.frame and framed.program.columns == sum(e[0] == "rotation" for e in framed.program.events)
    a, a_grad = _value_and_grad(framed, x, w)
    monkeypatch.setattr(trajectories, "_CLIFFORDS", frozenset())  # no gate passes: Paulis inserted
    inserted = TrajectoryCircuit(_circuit, N, N, (2, N, 3), model, 300, seed=11)
    assert not inserted.frame
    b, b_grad = _value_and_grad(inserted, x, w)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)
    np.testing.assert_allclose(a_grad.numpy(), b_grad.numpy(), atol=1e-12)
