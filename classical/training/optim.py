"""Optimisers and learning-rate schedules by name (or the user's own factory)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "SCHEDULERS", "check_optimizer_spec", "make_optimizer", "make_scheduler"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "step", "onecycle")


def check_optimizer_spec(optimizer: Any, scheduler: Any) -> None:
    """Refuse unknown optimiser / scheduler names and anything that is neither a name nor a callable."""
    if isinstance(optimizer, str) and optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)} or a callable")
    if not isinstance(optimizer, str) and not callable(optimizer):
        raise TypeError(
            f"optimizer must be a name or a callable params -> Optimizer, got {type(optimizer).__name__}"
        )
    if isinstance(scheduler, str) and scheduler.lower() not in SCHEDULERS:
        raise ValueError(
            f"unknown scheduler {scheduler!r}; allowed: {', '.join(SCHEDULERS)}, None or a callable"
        )
    if scheduler is not None and not isinstance(scheduler, str) and not callable(scheduler):
        raise TypeError(f"scheduler must be a name, None or a callable, got {type(scheduler).__name__}")


def make_optimizer(
    spec: str | Callable[..., torch.optim.Optimizer],
    model: nn.Module,
    lr: float,
    weight_decay: float,
    kwargs: dict[str, Any],
) -> torch.optim.Optimizer:
    """The optimiser over ``model``'s trainable parameters; SGD gets momentum 0.9 unless ``kwargs`` say.

    ``weight_decay`` applies to weight matrices and wider tensors only, not to one-dimensional parameters
    (biases, LayerNorm and BatchNorm gains): nanoGPT's rule (decaying a normalisation's gain towards 0 fights
    the normalisation). ``optimizer_kwargs={"weight_decay": ...}`` decays every parameter alike."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    if not isinstance(spec, str):
        return spec(params)
    kwargs = dict(kwargs)
    if "weight_decay" not in kwargs and weight_decay:
        params = _decay_groups(params, weight_decay)
    kwargs.setdefault("weight_decay", weight_decay)
    name = spec.lower()
    if name == "sgd":
        kwargs.setdefault("momentum", 0.9)
        return torch.optim.SGD(params, lr=lr, **kwargs)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **kwargs)
    return torch.optim.AdamW(params, lr=lr, **kwargs)


def _decay_groups(params: list[torch.nn.Parameter], decay: float) -> list[dict[str, Any]]:
    matrices = [p for p in params if p.dim() >= 2]
    others = [p for p in params if p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": decay}, {"params": others, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def make_scheduler(
    spec: str | Callable[..., Any] | None,
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    lr: float,
    kwargs: dict[str, Any],
) -> Any:
    """The schedule (stepped once per optimiser step over ``total_steps``), or None."""
    if spec is None:
        return None
    if not isinstance(spec, str):
        return spec(optimizer, total_steps)
    kw = dict(kwargs)
    name = spec.lower()
    sched = torch.optim.lr_scheduler
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=kw.pop("T_max", total_steps), **kw)
    if name == "step":
        return sched.StepLR(
            optimizer,
            step_size=kw.pop("step_size", max(1, total_steps // 3)),
            gamma=kw.pop("gamma", 0.1),
            **kw,
        )
    return sched.OneCycleLR(optimizer, max_lr=kw.pop("max_lr", lr), total_steps=total_steps, **kw)
