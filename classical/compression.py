"""Make trained models smaller: int8 quantisation and structured pruning, measured before and after.

* :func:`quantize_int8` stores ``nn.Linear`` weights as int8 with one float scale per output channel
  (4x smaller). Backend ``"torchao"`` (``torchao.quantization.quantize_``; ``torch.ao.quantization``
  is deprecated) also offers ``mode="dynamic"`` (int8 activations too); backend ``"native"`` is a small
  weight-only layer written here that runs on any device. ``"auto"`` prefers torchao.
* :func:`prune_linear` removes whole hidden units of chains of ``nn.Linear`` layers (``Linear ->
  activation -> Linear``) by magnitude and rebuilds smaller layers, so the model really gets smaller
  and faster; masks alone would change neither.
* :func:`compression_report` measures size on disk, latency and accuracy of several versions of a model;
  :func:`format_table` prints them.

Whether int8 is *faster* depends on the CPU's int8 kernels; on CPUs without them it is slower. The
report measures instead of promising.

Example::

    >>> import torch
    >>> from qhybrid.classical import MLP
    >>> from qhybrid.classical.compression import model_size_bytes, prune_linear, quantize_int8
    >>> model = MLP(64, 10, hidden=(256, 256))
    >>> small = prune_linear(model, amount=0.5)
    >>> [m.out_features for m in small.net if isinstance(m, torch.nn.Linear)]
    [128, 128, 10]
    >>> model_size_bytes(quantize_int8(model, backend="native")) < model_size_bytes(model) / 3
    True
"""

from __future__ import annotations

import copy
import importlib.util
import io
import logging
import statistics
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qhybrid._extras import missing_message
from qhybrid._tables import render_table

__all__ = [
    "Int8Linear",
    "compression_report",
    "format_table",
    "measure_latency",
    "model_size_bytes",
    "prune_linear",
    "quantize_int8",
    "torchao_available",
]

_ELEMENTWISE = (nn.ReLU, nn.GELU, nn.Tanh, nn.SiLU, nn.Sigmoid, nn.LeakyReLU, nn.Dropout, nn.Identity)


def torchao_available() -> bool:
    """True when torchao imports and offers ``quantize_`` (it is version-coupled to torch)."""
    if importlib.util.find_spec("torchao") is None:
        return False
    try:
        _torchao_quantization()
        return True
    except Exception:  # built for another torch: fall back to the native layer
        return False


def _torchao_quantization() -> Any:
    # torchao logs a warning for each CUDA-only kernel library it cannot load on a CPU machine, and
    # torch one for each enum it registers: noise for a user who only wants int8 weights.
    logs = [logging.getLogger(name) for name in ("torchao", "torch.utils._pytree")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        import torchao.quantization as q
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)
    return q


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights and a float scale per output channel (symmetric, weight-only).

    ``y = x @ (W_int8 * scale).T + b``; the weight is dequantised on the fly, in the input's dtype.
    """

    def __init__(self, weight_int8: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.register_buffer("weight_int8", weight_int8)
        self.register_buffer("scale", scale)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.out_features, self.in_features = weight_int8.shape

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        w = linear.weight.detach().float()
        scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
        q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
        bias = None if linear.bias is None else linear.bias.detach().clone()
        return cls(q, scale, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight_int8.to(x.dtype) * self.scale.to(x.dtype)[:, None]
        return F.linear(x, w, None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


def _replace_linears(module: nn.Module) -> None:
    for name, child in module.named_children():
        if type(child) is nn.Linear:
            setattr(module, name, Int8Linear.from_linear(child))
        else:
            _replace_linears(child)


def quantize_int8(
    model: nn.Module, *, mode: str = "weight_only", backend: str = "auto", inplace: bool = False
) -> nn.Module:
    """Post-training int8 quantisation of every ``nn.Linear`` in ``model`` (for inference).

    Args:
        model: a trained model.
        mode: ``"weight_only"`` (int8 weights, float activations) or ``"dynamic"`` (activations are
            quantised per batch as well; torchao only).
        backend: ``"auto"`` (torchao when it works here, else native), ``"torchao"`` or ``"native"``.
            torchao is the ``compression`` extra (``pip install 'qhybrid[compression]'``); without it
            ``"torchao"`` and ``mode="dynamic"`` raise ImportError naming that extra.
        inplace: modify ``model`` instead of a copy.

    Returns the quantised model in eval mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if mode not in ("weight_only", "dynamic"):
        raise ValueError(f"unknown mode {mode!r}; allowed: weight_only, dynamic")
    if backend not in ("auto", "torchao", "native"):
        raise ValueError(f"unknown backend {backend!r}; allowed: auto, torchao, native")
    if backend == "native" and mode == "dynamic":
        raise ValueError("mode 'dynamic' needs backend 'torchao'; the native backend is weight-only")
    has_ao = torchao_available()
    if backend == "auto":  # "dynamic" exists only in torchao: without it, say so below
        backend = "torchao" if has_ao or mode == "dynamic" else "native"
    if backend == "torchao" and not has_ao:
        if importlib.util.find_spec("torchao") is None:  # the optional extra
            raise ImportError(
                missing_message("torchao", f"quantize_int8 with mode={mode!r} through torchao")
                + "; backend='native' is weight-only and needs nothing more",
                name="torchao",
            )
        raise ValueError(
            f"backend 'torchao' is not usable here (torchao is installed but fails to import with torch "
            f"{torch.__version__}); use backend='native'"
        )
    if not any(type(m) is nn.Linear for m in model.modules()):
        raise ValueError("model has no nn.Linear layer to quantise")
    out = model if inplace else copy.deepcopy(model)
    out.eval()
    if backend == "native":
        _replace_linears(out)
        return out
    q = _torchao_quantization()
    config = q.Int8WeightOnlyConfig() if mode == "weight_only" else q.Int8DynamicActivationInt8WeightConfig()
    q.quantize_(out, config)
    return out


# ------------------------------------------------------------------------------------------- pruning


def _linear_chains(seq: nn.Sequential) -> list[tuple[int, int]]:
    """Pairs (i, j) of Linear layers in ``seq`` with only element-wise modules between them."""
    layers = list(seq)
    pairs = []
    for i, m in enumerate(layers):
        if type(m) is not nn.Linear:
            continue
        j = i + 1
        while j < len(layers) and isinstance(layers[j], _ELEMENTWISE):
            j += 1
        if j < len(layers) and type(layers[j]) is nn.Linear:
            pairs.append((i, j))
    return pairs


def _shrink(first: nn.Linear, second: nn.Linear, keep: torch.Tensor) -> tuple[nn.Linear, nn.Linear]:
    a = nn.Linear(first.in_features, len(keep), bias=first.bias is not None).to(first.weight)
    b = nn.Linear(len(keep), second.out_features, bias=second.bias is not None).to(second.weight)
    with torch.no_grad():
        a.weight.copy_(first.weight[keep])
        if first.bias is not None:
            a.bias.copy_(first.bias[keep])
        b.weight.copy_(second.weight[:, keep])
        if second.bias is not None:
            b.bias.copy_(second.bias)
    return a, b


def prune_linear(model: nn.Module, amount: float = 0.5, *, inplace: bool = False) -> nn.Module:
    """Remove the fraction ``amount`` of hidden units between consecutive ``nn.Linear`` layers.

    A hidden unit k between ``Linear A`` and ``Linear B`` (only element-wise modules such as ReLU or
    dropout in between, inside one ``nn.Sequential``) scores ``||A.weight[k]|| * ||B.weight[:, k]||``;
    the lowest-scoring units are dropped and both layers are rebuilt smaller. Input and output widths
    of the model do not change. Units whose outgoing weights are all zero score 0, so they go first
    and removing them leaves the outputs unchanged. Fine-tune afterwards to recover accuracy.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(amount, (int, float)) or not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1), got {amount!r}")
    out = model if inplace else copy.deepcopy(model)
    found = False
    for seq in [m for m in out.modules() if isinstance(m, nn.Sequential)]:
        for i, j in _linear_chains(seq):
            found = True
            first, second = seq[i], seq[j]
            n_keep = max(1, round(first.out_features * (1.0 - amount)))
            score = first.weight.detach().norm(dim=1) * second.weight.detach().norm(dim=0)
            if first.bias is not None:  # a unit with zero weights but a bias still feeds B a constant
                score = score + first.bias.detach().abs() * second.weight.detach().norm(dim=0)
            keep = torch.sort(torch.topk(score, n_keep).indices).values
            seq[i], seq[j] = _shrink(first, second, keep)
    if not found:
        raise ValueError(
            "model has no Linear -> (activation) -> Linear chain inside an nn.Sequential to prune"
        )
    return out


# ------------------------------------------------------------------------------------------- measuring


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the size on disk."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


@torch.inference_mode()
def measure_latency(model: nn.Module, x: torch.Tensor, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``model(x)`` in milliseconds (eval mode, inference mode)."""
    model.eval()
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


@torch.inference_mode()
def _accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(X), batch_size):
        correct += int((model(X[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum())
    return correct / len(X)


def compression_report(
    models: dict[str, nn.Module],
    X: Any,
    y: Any,
    *,
    batch_size: int = 256,
    repeats: int = 20,
) -> list[dict[str, Any]]:
    """Size on disk, parameter count, latency of one batch and accuracy of each model, on the same data.

    The first model is the reference: ``size_ratio`` and ``acc_delta`` are relative to it.
    """
    if not models:
        raise ValueError("models is empty: pass {'name': model, ...}")
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X).float()
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).long()
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X and y must be non-empty and of equal length, got {len(X)} and {len(y)}")
    rows: list[dict[str, Any]] = []
    batch = X[:batch_size]
    for name, model in models.items():
        rows.append(
            {
                "model": name,
                "params": sum(p.numel() for p in model.parameters())
                + sum(b.numel() for b in model.buffers()),
                "size_bytes": model_size_bytes(model),
                "latency_ms": measure_latency(model, batch, repeats=repeats),
                "accuracy": _accuracy(model, X, y, batch_size),
            }
        )
    ref = rows[0]
    for row in rows:
        row["size_ratio"] = row["size_bytes"] / ref["size_bytes"]
        row["speedup"] = ref["latency_ms"] / row["latency_ms"]
        row["acc_delta"] = row["accuracy"] - ref["accuracy"]
    return rows


def format_table(rows: Iterable[dict[str, Any]], *, style: str = "text") -> str:
    """:func:`compression_report` rows as a table (``style``: ``"text"`` or ``"markdown"``)."""
    headers = ["model", "params", "size KiB", "x size", "latency ms", "speedup", "accuracy", "Δacc"]
    body = [
        [
            r["model"],
            f"{r['params']:,}",
            f"{r['size_bytes'] / 1024:.1f}",
            f"{r['size_ratio']:.2f}",
            f"{r['latency_ms']:.3f}",
            f"{r['speedup']:.2f}",
            f"{r['accuracy']:.4f}",
            f"{r['acc_delta']:+.4f}",
        ]
        for r in rows
    ]
    return render_table(headers, body, numeric=headers[1:], style=style)
