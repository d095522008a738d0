"""Numeric precision of a run as one object: how the model and inputs are converted, the autocast
context of the forward pass, and the backward pass and optimiser step (gradient scaler, unscaling and
gradient clipping).

=================  ==========================  =====================================================
precision          model and float inputs      forward / step
=================  ==========================  =====================================================
``"32"``           float32                     plain
``"64"``           float64                     plain
``"bf16-mixed"``   float32                     ``torch.autocast`` to bfloat16
``"16-mixed"``     float32                     float16 autocast with a gradient scaler (CUDA only)
=================  ==========================  =====================================================

Aliases: ``"32-true"``, ``"64-true"``, ``"bf16"``, ``"16"`` and the ints 32, 64, 16.

Every floating-point input tensor, whichever path it comes by (an in-memory ``(X, y)`` pair, a
``Dataset``, a user's ``DataLoader``, ``predict``), goes through :meth:`Precision.convert_input`, so a
float64 array trains under ``"32"`` as float32 and a float32 one under ``"64"`` as float64.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from qhybrid.classical.accelerators import Accelerator

__all__ = ["PRECISIONS", "Precision"]

PRECISIONS = ("32", "64", "bf16-mixed", "16-mixed")
_ALIASES = {"32-true": "32", "64-true": "64", "bf16": "bf16-mixed", "16": "16-mixed"}
_AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


class Precision:
    """The precision ``name`` on ``accelerator``; see the module docstring for what each name does.

    Raises:
        ValueError: an unknown name, or ``"16-mixed"`` off CUDA.
    """

    def __init__(self, name: str | int, accelerator: Accelerator) -> None:
        name = _ALIASES.get(str(name), str(name))
        if name not in PRECISIONS:
            raise ValueError(f"unknown precision {name!r}; allowed: {', '.join(PRECISIONS)}")
        if name == "16-mixed" and accelerator.kind != "cuda":
            raise ValueError(
                f"precision '16-mixed' needs CUDA (float16 autocast with a gradient scaler); this run is on "
                f"{accelerator.kind}: use 'bf16-mixed' or '32'"
            )
        self.name = name
        self.device_type = accelerator.type
        self.input_dtype = torch.float64 if name == "64" else torch.float32
        self.autocast_dtype = _AUTOCAST.get(name)
        self.scaler: torch.amp.GradScaler | None = None
        self._plain = contextlib.nullcontext()

    def __repr__(self) -> str:
        return f"Precision({self.name!r})"

    @property
    def is_mixed(self) -> bool:
        return self.autocast_dtype is not None

    # ----------------------------------------------------------------------------------- conversions

    def convert_module(self, module: nn.Module) -> nn.Module:
        """``module`` in the parameter dtype of this precision (in place, as ``Module.double`` is)."""
        return module.double() if self.name == "64" else module

    def convert_input(self, tensor: torch.Tensor) -> torch.Tensor:
        """A floating-point tensor in the input dtype (float64 for ``"64"``, else float32); others as given."""
        if tensor.is_floating_point() and tensor.dtype != self.input_dtype:
            return tensor.to(self.input_dtype)
        return tensor

    def convert_output(self, tensor: torch.Tensor) -> torch.Tensor:
        """Model outputs as returned by ``predict``: autocast's half-precision outputs become float32."""
        if self.is_mixed and tensor.is_floating_point():
            return tensor.float()
        return tensor

    def forward_context(self) -> contextlib.AbstractContextManager:
        """The context the forward pass and the loss run in: autocast for the mixed precisions."""
        if self.autocast_dtype is None:
            return self._plain
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)

    # ----------------------------------------------------------------------------------- backward / step

    def setup(self) -> None:
        """A fresh gradient scaler for a new fit (``"16-mixed"`` only)."""
        self.scaler = torch.amp.GradScaler(self.device_type) if self.name == "16-mixed" else None

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def optimizer_step(
        self,
        optimizer: torch.optim.Optimizer,
        model: nn.Module,
        clip: float | None,
        before_step: Callable[[], None],
    ) -> None:
        """Unscale the gradients (scaler only), call ``before_step`` (the ``on_before_optimizer_step``
        hooks, which so see true gradients), clip their global norm to ``clip``, then step."""
        scaler = self.scaler
        if scaler is not None:
            scaler.unscale_(optimizer)
        before_step()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state is not None:
            self.scaler.load_state_dict(state)
