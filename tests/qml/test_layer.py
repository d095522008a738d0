"""QuantumLayer: values against default.qubit, gradients, training, bad input."""

import numpy as np
import pennylane as qp
import pytest
import torch

from qhybrid.qml import QuantumLayer
from qhybrid.qml.circuits import ANSATZE, EMBEDDINGS, get_ansatz, get_embedding


def reference(layer: QuantumLayer, x: torch.Tensor) -> np.ndarray:
    """The same circuit on default.qubit, from the layer's own embedding and ansatz."""
    dev = qp.device("default.qubit", wires=layer.n_qubits)

    @qp.qnode(dev)
    def circuit(inputs, weights):
        return layer.circuit(inputs, weights)

    out = circuit(x.double(), layer.weights.detach())
    return torch.stack(list(out), dim=-1).numpy()


@pytest.mark.parametrize("embedding", list(EMBEDDINGS))
@pytest.mark.parametrize("ansatz", list(ANSATZE))
def test_aer_layer_equals_default_qubit(embedding, ansatz):
    n_inputs = 4 if embedding != "amplitude" else 7
    layer = QuantumLayer(n_inputs, n_layers=2, backend="aer", embedding=embedding, ansatz=ansatz, seed=3)
    x = torch.randn(5, n_inputs, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = layer(x).detach().numpy()
    np.testing.assert_allclose(got, reference(layer, x), rtol=1e-8, atol=1e-10)
    assert got.shape == (5, layer.n_qubits)


@pytest.mark.parametrize("backend", ["aer", "aer.density", "aer.mps", "lightning", "default"])
def test_gradients_match_default_qubit_on_every_exact_backend(backend):
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    grads = {}
    for name in (backend, "default"):
        layer = QuantumLayer(3, n_layers=2, backend=name, seed=7)
        xi = x.clone().requires_grad_(True)
        (layer(xi) * torch.arange(1.0, 4.0, dtype=torch.float64)).sum().backward()
        grads[name] = (layer.weights.grad.numpy(), xi.grad.numpy())
    for got, ref in zip(grads[backend], grads["default"], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)


def test_separable_control_has_no_two_qubit_gates():
    layer = QuantumLayer(3, n_layers=2, backend="default", entangling=False, seed=0)
    tape = qp.workflow.construct_tape(layer.qnode, level="device")(
        torch.zeros(3, dtype=torch.float64), layer.weights
    )
    assert tape.operations and all(len(op.wires) == 1 for op in tape.operations)
    # without entanglement qubit 0 depends on feature 0 only
    x = torch.zeros(2, 3, dtype=torch.float64)
    x[1, 1:] = 1.0
    out = layer(x)
    assert torch.allclose(out[0, 0], out[1, 0])


def test_training_with_a_torch_optimiser_reduces_the_loss():
    torch.manual_seed(0)
    x = torch.rand(16, 2) * np.pi
    y = torch.cos(x[:, 0]) * 0.5
    model = torch.nn.Sequential(QuantumLayer(2, n_layers=1, backend="aer", seed=0), torch.nn.Linear(2, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_output_dtype_and_device_follow_the_input():
    layer = QuantumLayer(2, n_layers=1, backend="aer", seed=0)
    out = layer(torch.zeros(3, 2, dtype=torch.float32))
    assert out.dtype == torch.float32 and out.shape == (3, 2)
    single = layer(torch.zeros(2))
    assert single.shape == (2,)
    np.testing.assert_allclose(single.detach().numpy(), layer(torch.zeros(1, 2))[0].detach().numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_inputs_come_back_on_cuda():
    layer = QuantumLayer(2, n_layers=1, backend="aer", seed=0).cuda()
    x = torch.zeros(4, 2, device="cuda", requires_grad=True)
    out = layer(x)
    assert out.device.type == "cuda"
    out.sum().backward()
    assert x.grad.device.type == "cuda" and layer.weights.grad.device.type == "cuda"


def test_circuit_executions_are_counted():
    layer = QuantumLayer(2, n_layers=1, backend="aer", diff_method="parameter-shift", seed=0)
    layer(torch.zeros(4, 2)).sum().backward()
    # forward: 4 samples; backward: 2 shifts x 6 Rot angles x 4 samples (inputs need no gradient)
    assert layer.circuit_executions == 4 + 2 * 6 * 4


def test_bad_input_is_rejected_clearly():
    layer = QuantumLayer(3, n_layers=1, backend="default", seed=0)
    with pytest.raises(ValueError, match=r"inputs of shape \(batch, 3\), got \(2, 4\)"):
        layer(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full((1, 3), float("nan")))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        QuantumLayer(3, backend="nope")
    with pytest.raises(ValueError, match="unknown embedding 'fourier'; allowed: angle, amplitude"):
        QuantumLayer(3, embedding="fourier")
    with pytest.raises(ValueError, match="unknown ansatz"):
        QuantumLayer(3, ansatz="qcnn")
    with pytest.raises(ValueError, match="embedding 'angle' on 2 qubits takes at most 2 features, got 3"):
        QuantumLayer(3, n_qubits=2)
    with pytest.raises(ValueError, match="exactly 4 features"):
        QuantumLayer(3, n_qubits=4, embedding="iqp")
    with pytest.raises(ValueError, match="n_layers"):
        QuantumLayer(3, n_layers=0)


def test_callables_are_accepted_as_embedding_and_ansatz():
    def my_embedding(x, wires):
        qp.AngleEmbedding(x, wires=wires, rotation="Y")

    def my_layer(w, wires, entangling):
        for i, wire in enumerate(wires):
            qp.RZ(w[i, 0], wires=wire)
            qp.RX(w[i, 1], wires=wire)

    assert get_embedding(my_embedding).name == "my_embedding"
    layer = QuantumLayer(
        2, n_layers=2, backend="aer", embedding=my_embedding, ansatz=my_layer, weights_per_wire=2, seed=1
    )
    assert tuple(layer.weights.shape) == (2, 2, 2)
    x = torch.rand(3, 2, dtype=torch.float64)
    np.testing.assert_allclose(layer(x).detach().numpy(), reference(layer, x), rtol=1e-8, atol=1e-10)
    assert get_ansatz("basic_entangler").shape(3, 4) == (3, 4)


@pytest.mark.parametrize("backend", ["aer", "lightning"])
def test_layer_pickles_and_deep_copies_with_its_weights(backend, tmp_path):
    import copy
    import pickle

    layer = QuantumLayer(3, n_layers=1, backend=backend, seed=4)
    x = torch.rand(2, 3, dtype=torch.float64)
    expected = layer(x)
    torch.save(layer, tmp_path / "layer.pt")
    for other in (
        pickle.loads(pickle.dumps(layer)),
        copy.deepcopy(layer),
        torch.load(tmp_path / "layer.pt", weights_only=False),
    ):
        assert other.device is not layer.device  # a fresh simulator, same circuit and weights
        torch.testing.assert_close(other(x), expected)
