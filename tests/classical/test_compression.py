"""Compression: int8 quantisation (torchao and native) and structured pruning, against the float model."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from qhybrid.classical.compression import (
    Int8Linear,
    compression_report,
    format_table,
    model_size_bytes,
    prune_linear,
    quantize_int8,
    torchao_available,
)
from qhybrid.classical.models import MLP
from qhybrid.classical.training import Trainer


@pytest.fixture(scope="module")
def trained():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    torch.manual_seed(0)
    model = MLP(64, 10, hidden=(128, 128))
    Trainer(max_epochs=6, lr=3e-3, accelerator="cpu").fit(model, (X[:1400], y[:1400]))
    return model, (X[:1400], y[:1400]), (X[1400:], y[1400:])


def test_native_int8_layer_matches_float_within_quantisation_error():
    torch.manual_seed(0)
    lin = nn.Linear(32, 16)
    q = Int8Linear.from_linear(lin)
    x = torch.randn(8, 32)
    scale = lin.weight.abs().amax(1) / 127
    # per-output error bound: sum_j |x_j| * scale_i / 2
    bound = (x.abs().sum(1, keepdim=True) * scale[None, :] / 2) + 1e-6
    assert ((q(x) - lin(x)).abs() <= bound).all()
    assert q.weight_int8.dtype == torch.int8 and q(x.double()).dtype == torch.float64


@pytest.mark.parametrize(
    "backend,mode", [("native", "weight_only"), ("torchao", "weight_only"), ("torchao", "dynamic")]
)
def test_quantize_shrinks_and_keeps_accuracy(trained, backend, mode):
    if backend == "torchao" and not torchao_available():
        pytest.skip("torchao not usable with this torch")
    model, _, (Xt, yt) = trained
    q = quantize_int8(model, backend=backend, mode=mode)
    assert type(model.net[0]) is nn.Linear  # the original is untouched
    assert model_size_bytes(q) < 0.35 * model_size_bytes(model)
    rows = compression_report({"fp32": model, "int8": q}, Xt, yt, repeats=3)
    assert rows[1]["acc_delta"] > -0.01 and rows[0]["accuracy"] > 0.85
    assert "int8" in format_table(rows)


def test_quantize_errors():
    with pytest.raises(ValueError, match="unknown backend 'fbgemm'"):
        quantize_int8(MLP(4, 2), backend="fbgemm")
    with pytest.raises(ValueError, match="mode 'dynamic' needs backend 'torchao'"):
        quantize_int8(MLP(4, 2), backend="native", mode="dynamic")
    with pytest.raises(ValueError, match="no nn.Linear layer"):
        quantize_int8(nn.Conv2d(1, 1, 3))
    with pytest.raises(TypeError, match="got str"):
        quantize_int8("mlp")


def test_prune_removes_dead_units_exactly():
    torch.manual_seed(0)
    model = MLP(8, 3, hidden=(16,))
    with torch.no_grad():  # half the hidden units feed nothing forward
        model.net[2].weight[:, ::2] = 0.0
    small = prune_linear(model, amount=0.5)
    assert small.net[0].out_features == 8 and small.net[2].in_features == 8
    x = torch.randn(5, 8)
    assert torch.allclose(small(x), model(x), atol=1e-6)
    assert sum(p.numel() for p in small.parameters()) < 0.55 * sum(p.numel() for p in model.parameters())


def test_prune_then_finetune_recovers(trained):
    model, train, test = trained
    small = prune_linear(model, amount=0.75)
    assert [m.out_features for m in small.net if isinstance(m, nn.Linear)] == [32, 32, 10]
    assert model_size_bytes(small) < 0.3 * model_size_bytes(model)
    Trainer(max_epochs=4, lr=3e-3, accelerator="cpu").fit(small, train)
    rows = compression_report({"fp32": model, "pruned": small}, *test, repeats=3)
    assert rows[1]["acc_delta"] > -0.04
    with pytest.raises(ValueError, match=r"amount must be a fraction in \[0, 1\), got 1.0"):
        prune_linear(model, amount=1.0)
    with pytest.raises(ValueError, match="no Linear -> \\(activation\\) -> Linear chain"):
        prune_linear(nn.Linear(3, 3))
