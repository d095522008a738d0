"""torch.compile of models holding a QuantumLayer: the circuit is one opaque op in the compiled graph, and
outputs and gradients equal the uncompiled model's."""

import pytest
import torch
from torch import nn

from qhybrid.qml import QuantumLayer


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _model(backend: str = "aer") -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 4), QuantumLayer(4, n_layers=1, backend=backend, seed=0), nn.Linear(4, 2)
    ).double()


def _inputs(batch: int = 8) -> torch.Tensor:
    return torch.rand(batch, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3.0


def _step(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Outputs, parameter gradients and input gradient of one weighted-sum loss."""
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    out = model(x)
    (out * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum().backward()
    named = getattr(model, "_orig_mod", model).named_parameters()  # a compiled model wraps the original
    grads = {n: p.grad.clone() for n, p in named if p.grad is not None}
    return out.detach(), grads, x.grad


def _assert_same_step(compiled: nn.Module, eager: nn.Module, x: torch.Tensor) -> None:
    out_c, grads_c, gx_c = _step(compiled, x)
    out_e, grads_e, gx_e = _step(eager, x)
    torch.testing.assert_close(out_c, out_e, rtol=0, atol=1e-10)
    assert grads_c.keys() == grads_e.keys() == {"0.weight", "0.bias", "1.weights", "2.weight", "2.bias"}
    for name in grads_e:
        torch.testing.assert_close(grads_c[name], grads_e[name], rtol=0, atol=1e-10, msg=name)
    torch.testing.assert_close(gx_c, gx_e, rtol=0, atol=1e-10)
    assert gx_e.abs().max() > 1e-3  # the input gradient crosses the quantum layer: not a vacuous check


def test_sequential_compiles_to_one_graph_with_the_circuit_as_one_op():
    graphs = []

    def record(gm: torch.fx.GraphModule, example_inputs):
        graphs.append([n.target for n in gm.graph.nodes if n.op == "call_function"])
        return gm.forward

    out = torch.compile(_model(), backend=record)(_inputs())
    assert out.shape == (8, 2)
    assert graphs == [
        [torch._C._nn.linear, torch.ops.qhybrid.quantum_layer.default, torch._C._nn.linear],
    ]


@pytest.mark.parametrize("backend", ["aer", "default"])
def test_compiled_step_equals_eager_step(backend):
    # aot_eager: the compiled forward and backward graphs as torch runs them, without inductor's code
    # generation (the slow test below runs inductor)
    eager = _model(backend)
    compiled = torch.compile(_model(backend), backend="aot_eager")
    _assert_same_step(compiled, eager, _inputs())
    _assert_same_step(compiled, eager, _inputs(5))  # another batch size: a recompiled graph, same values


def test_compiled_step_with_frozen_quantum_weights():
    eager, model = _model(), _model()
    for m in (eager, model):
        m[1].weights.requires_grad_(False)
    compiled = torch.compile(model, backend="aot_eager")
    x = _inputs()
    out_c, grads_c, gx_c = _step(compiled, x)
    out_e, grads_e, gx_e = _step(eager, x)
    torch.testing.assert_close(out_c, out_e, rtol=0, atol=1e-10)
    assert grads_c.keys() == grads_e.keys() == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name in grads_e:
        torch.testing.assert_close(grads_c[name], grads_e[name], rtol=0, atol=1e-10, msg=name)
    torch.testing.assert_close(gx_c, gx_e, rtol=0, atol=1e-10)


def test_inductor_forward_equals_eager():
    x = _inputs()
    with torch.no_grad():
        expected = _model()(x)
        got = torch.compile(_model())(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_compiled_model_refuses_nan_inputs_with_the_eager_message():
    compiled = torch.compile(_model(), backend="aot_eager")
    x = _inputs()
    x[2, 1] = float("nan")
    with pytest.raises(ValueError, match="QuantumLayer inputs contain NaN or infinite values"):
        compiled(x)


def test_copied_layer_has_its_own_op_key():
    import copy

    layer = QuantumLayer(2, n_layers=1, backend="default", seed=0)
    clone = copy.deepcopy(layer)
    assert clone._key != layer._key
    with torch.no_grad():
        clone.weights.add_(0.5)
    compiled = torch.compile(clone, backend="aot_eager")
    x = torch.rand(3, 2, dtype=torch.float64)
    torch.testing.assert_close(compiled(x), clone(x), rtol=0, atol=1e-12)
    assert (compiled(x) - layer(x)).abs().max() > 1e-3


@pytest.mark.slow
def test_inductor_training_steps_equal_eager():
    """The default backend (inductor) over three optimiser steps: the same outputs, gradients and weights."""
    eager, model = _model(), _model()
    compiled = torch.compile(model)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (eager, model)]
    x = _inputs()
    for _ in range(3):
        _assert_same_step(compiled, eager, x)
        for opt in opts:
            opt.step()
    for (name, p_e), p_c in zip(eager.named_parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(p_c, p_e, rtol=0, atol=1e-10, msg=name)


def test_the_ops_pass_torch_opcheck():
    """torch's own checks of a custom op: schema, autograd registration, fake kernel, AOT dispatch."""
    ops = torch.ops.qhybrid  # registered by importing qhybrid.qml.layer
    layer = QuantumLayer(3, n_layers=1, backend="aer", seed=0)
    x = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    w = layer.weights.detach().clone()
    cotangent = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    passed = {name: "SUCCESS" for name in ("test_schema", "test_autograd_registration", "test_faketensor")}
    passed["test_aot_dispatch_dynamic"] = "SUCCESS"
    assert (
        torch.library.opcheck(ops.quantum_layer, (x.requires_grad_(True), w.requires_grad_(True), layer._key))
        == passed
    )
    assert (
        torch.library.opcheck(
            ops.quantum_layer_vjp, (x.detach(), w.detach(), cotangent, layer._key, True, False)
        )
        == passed
    )
