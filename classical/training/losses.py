"""Losses by name, the ``"auto"`` choice from the targets, and the first-batch check that turns shape
mistakes into a message about the model and the data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qhybrid.classical.training.precision import Precision

__all__ = ["LOSSES", "LossInfo", "checked_forward", "resolve_loss"]

LOSSES = ("auto", "cross_entropy", "mse", "l1", "bce")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == 3:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    return F.cross_entropy(out, y)


def _column(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A ``(batch, 1)`` output against ``(batch,)`` targets, squeezed to match."""
    if out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1:
        return out.squeeze(1)
    return out


def _bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = _column(out, y)
    return F.binary_cross_entropy_with_logits(out, y.to(out.dtype))


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = _column(out, y)
    return F.mse_loss(out, y.to(out.dtype))


def _l1(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = _column(out, y)
    return F.l1_loss(out, y.to(out.dtype))


_LOSS_FNS: dict[str, LossFn] = {"cross_entropy": _cross_entropy, "mse": _mse, "l1": _l1, "bce": _bce}


@dataclass(frozen=True)
class LossInfo:
    """The loss a run uses: its function, its name (``"custom"`` for a callable) and whether accuracy
    is reported (cross-entropy and BCE)."""

    fn: LossFn
    name: str
    classify: bool


def check_loss_spec(loss: Any) -> None:
    """Refuse an unknown loss name or a non-callable."""
    if isinstance(loss, str) and loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; allowed: {', '.join(LOSSES)} or a callable")
    if not isinstance(loss, str) and not callable(loss):
        raise TypeError(
            f"loss must be a name or a callable (output, target) -> loss, got {type(loss).__name__}"
        )


def resolve_loss(spec: str | LossFn, y: torch.Tensor | None) -> LossInfo:
    """The loss for ``spec``; ``"auto"`` is cross-entropy for integer targets, else mean squared error."""
    if not isinstance(spec, str):
        return LossInfo(spec, "custom", False)
    if spec == "auto":
        spec = "cross_entropy" if (y is not None and not y.is_floating_point()) else "mse"
    return LossInfo(_LOSS_FNS[spec], spec, spec in ("cross_entropy", "bce"))


def checked_forward(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: LossInfo, precision: Precision
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and loss of the first batch, with shape and class-range errors explained."""
    try:
        with precision.forward_context():
            out = model(x)
    except (RuntimeError, ValueError) as err:
        if "deterministic implementation" in str(err):
            raise  # Trainer(deterministic=True) refused an operation: not a shape problem
        raise ValueError(
            f"the model cannot take a batch of inputs of shape {tuple(x.shape)} (dtype {x.dtype}): {err}"
        ) from err
    if loss.name == "cross_entropy":
        n_classes = out.shape[-1]
        if out.dim() - 1 != y.dim() or out.shape[:-1] != y.shape:
            raise ValueError(
                f"model output shape {tuple(out.shape)} does not match targets of shape {tuple(y.shape)}: "
                "cross-entropy needs outputs (batch, classes) for targets (batch,) "
                "or (batch, T, vocab) for (batch, T)"
            )
        top = int(y.max())
        if top >= n_classes or int(y.min()) < 0:
            raise ValueError(
                f"targets contain class {top if top >= n_classes else int(y.min())} but the model "
                f"outputs {n_classes} classes (valid targets 0..{n_classes - 1})"
            )
    try:
        with precision.forward_context():
            value = loss.fn(out, y)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"loss cannot compare model output of shape {tuple(out.shape)} with targets of shape "
            f"{tuple(y.shape)}: {err}"
        ) from err
    if value.dim() != 0:
        raise ValueError(f"loss must be a scalar, got shape {tuple(value.shape)}")
    return out, value
