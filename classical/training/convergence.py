"""``ConvergenceStop``: stop training once the loss curve is flat, by the criterion of the qml-benchmarks
study (Bowles, Ahmed & Schuld, arXiv:2403.07059; ``train`` in its ``model_utils.py``).

With ``L`` the training loss of every optimiser step so far and ``W`` the window, training stops after the
first step at which

.. math::

    \\bigl|\\overline{L}_{\\text{last } W} - \\overline{L}_{\\text{previous } W}\\bigr|
    \\le \\frac{\\operatorname{std}(L_{\\text{last } W})}{2\\sqrt{W}}

holds, ``std`` being the population standard deviation (``numpy.std``, ``ddof=0``): the change of the mean
between the last two windows is smaller than half the standard error of the last window's mean. As in the
study the test starts once more than ``2 W + 1`` losses are known (its ``step > 2 * convergence_interval``
on a 0-based step counter), so training runs at least ``2 W + 2`` steps.

Example::

    >>> from qhybrid.classical.training.convergence import ConvergenceStop, loss_is_flat
    >>> loss_is_flat([1.0, 0.9] * 6, window=4)  # 12 losses: two windows of 4 with the same mean
    True
    >>> loss_is_flat(list(range(12, 0, -1)), window=4)  # still falling
    False
    >>> ConvergenceStop(window=200).window
    200
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from qhybrid.classical.training.callbacks import Callback
from qhybrid.classical.validation import check_int

if TYPE_CHECKING:
    import torch
    from torch import nn

    from qhybrid.classical.training.trainer import Trainer

__all__ = ["ConvergenceStop", "loss_is_flat"]


def loss_is_flat(losses: Any, window: int) -> bool:
    """The study's criterion on a sequence of per-step losses (see the module docstring); ``False`` while
    there are ``2 * window + 1`` losses or fewer."""
    window = check_int("window", window, 1)
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1:
        raise ValueError(f"losses must be a 1-d sequence of per-step losses, got shape {losses.shape}")
    if len(losses) <= 2 * window + 1:
        return False
    last, previous = losses[-window:], losses[-2 * window : -window]
    return bool(abs(previous.mean() - last.mean()) <= last.std() / math.sqrt(window) / 2)


class ConvergenceStop(Callback):
    """Stop training at the first optimiser step after which the loss curve is flat over two windows of
    ``window`` steps (the qml-benchmarks study's criterion, :func:`loss_is_flat`).

    Counts optimiser steps across epochs: each step's loss is its batch's loss (the mean over its
    micro-batches under ``accumulate_grad_batches``), averaged over the processes under several, so that
    every rank stops at the same step. The stop comes at that step's end; the epoch's metrics, validation
    and epoch-end callbacks still run. Pair it with ``Trainer(max_steps=...)`` for the study's cap, and
    a ``max_epochs`` high enough not to end training first.

    Args:
        window: steps per window (the study's ``convergence_interval``, 200).

    Attributes:
        losses: the loss of every optimiser step of the fit (restored from a checkpoint on resume).
        converged: whether the criterion stopped training.
        stopped_step: the step count at which it did (``None`` before).
    """

    def __init__(self, window: int = 200) -> None:
        self.window = check_int("window", window, 1)
        self._reset()

    def _reset(self) -> None:
        self.losses: list[float] = []
        self.converged = False
        self.stopped_step: int | None = None
        self._pending: list[torch.Tensor] = []
        self._seen_step = 0

    def setup(self, trainer: Trainer, model: nn.Module, stage: str) -> None:
        self._reset()  # every fit starts a fresh curve; a resumed one loads its own next

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self._seen_step = trainer.global_step

    def on_train_batch_end(
        self, trainer: Trainer, model: nn.Module, loss: torch.Tensor, batch_idx: int
    ) -> None:
        if trainer.fast_dev_run:
            return
        self._pending.append(loss.detach())
        if trainer.global_step == self._seen_step:
            return  # a micro-batch that accumulated gradients only
        self._seen_step = trainer.global_step
        value = sum(float(t) for t in self._pending) / len(self._pending)
        self._pending = []
        if trainer.world_size > 1:
            value = trainer.strategy.all_reduce([value])[0] / trainer.world_size
        self.losses.append(value)
        if not self.converged and loss_is_flat(self.losses[-2 * self.window - 2 :], self.window):
            self.converged, self.stopped_step = True, trainer.global_step
            trainer.should_stop = True
            trainer.stop_reason = (
                f"converged: the mean loss of the last {self.window} steps moved by less than half its "
                f"standard error (step {trainer.global_step})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"losses": list(self.losses), "converged": self.converged, "stopped_step": self.stopped_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.losses = list(state["losses"])
        self.converged, self.stopped_step = state["converged"], state["stopped_step"]
