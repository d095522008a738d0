"""Callbacks: small objects with named hooks that add behaviour to :class:`classical.Trainer`.

Hooks (all optional; each receives the trainer and the model being trained), in the order a fit
calls them::

    setup(trainer, model, stage)                          # stage "fit"; before any work (check folders)
    on_fit_start(trainer, model)
    on_train_epoch_start(trainer, model)
    on_before_backward(trainer, model, loss)              # the loss about to be differentiated
    on_after_backward(trainer, model)                     # gradients of this micro-batch accumulated
    on_before_optimizer_step(trainer, model, optimizer)   # gradients unscaled, not yet clipped
    on_after_optimizer_step(trainer, model, optimizer)    # after the step, the schedule, global_step += 1
    on_train_batch_end(trainer, model, loss, batch_idx)   # loss: the batch's loss tensor (no sync forced)
    on_validation_end(trainer, model, metrics)
    on_train_epoch_end(trainer, model, metrics)           # metrics: this epoch's train + val numbers
    on_fit_end(trainer, model)
    on_exception(trainer, model, error)
    on_save_checkpoint(trainer, model, checkpoint)        # the dict being saved: entries may be added
    on_load_checkpoint(trainer, model, checkpoint)        # the dict a fit resumes from

The trainer calls only the hooks a callback overrides. Callbacks run in increasing ``order`` (0 unless a
class says otherwise), then in the order given; :class:`ModelCheckpoint` and the loggers have order 1, so
they see the epoch's final metrics and save the other callbacks' state as it stands at the end of the
epoch. A callback that sets ``trainer.should_stop = True`` ends training: at the end of an epoch (as
:class:`EarlyStopping` does) no further epoch starts; during one (as :class:`~.timer.Timer` does) the epoch ends
after the current optimiser step, and its metrics, validation and epoch-end hooks still run. State a
callback needs to resume exactly (best score, patience counter) goes through ``state_dict`` /
``load_state_dict`` and is stored in checkpoints.

Under ``Trainer(fast_dev_run=...)`` :class:`EarlyStopping`, :class:`ModelCheckpoint`,
:class:`LRMonitor` and the loggers do nothing, as in Lightning.

Example::

    >>> from qhybrid.classical import EarlyStopping, ModelCheckpoint, Trainer
    >>> trainer = Trainer(max_epochs=50, callbacks=[EarlyStopping("val_loss", patience=3),
    ...                                             ModelCheckpoint("ckpt", monitor="val_acc", mode="max")])
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qhybrid.classical.validation import (
    check_float,
    check_int,
    check_writable_dir,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from qhybrid.classical.training.trainer import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "LRMonitor",
    "ModelCheckpoint",
    "ProgressBar",
]


class Callback:
    """Base class: override the hooks you need; the trainer calls only what is overridden."""

    #: Callbacks run in increasing order (then as given); 1 for checkpointing and logging, which come last.
    order: int = 0

    @property
    def state_key(self) -> str:
        """Key under which this callback's state is stored in a checkpoint."""
        return type(self).__name__

    def setup(self, trainer: Trainer, model: nn.Module, stage: str) -> None: ...

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None: ...

    def on_train_epoch_start(self, trainer: Trainer, model: nn.Module) -> None: ...

    def on_before_backward(self, trainer: Trainer, model: nn.Module, loss: torch.Tensor) -> None: ...

    def on_after_backward(self, trainer: Trainer, model: nn.Module) -> None: ...

    def on_before_optimizer_step(
        self, trainer: Trainer, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> None: ...

    def on_after_optimizer_step(
        self, trainer: Trainer, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> None: ...

    def on_train_batch_end(
        self, trainer: Trainer, model: nn.Module, loss: torch.Tensor, batch_idx: int
    ) -> None: ...

    def on_validation_start(self, trainer: Trainer, model: nn.Module) -> None: ...

    def on_validation_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None: ...

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None: ...

    def on_exception(self, trainer: Trainer, model: nn.Module, error: BaseException) -> None: ...

    def on_save_checkpoint(self, trainer: Trainer, model: nn.Module, checkpoint: dict[str, Any]) -> None: ...

    def on_load_checkpoint(self, trainer: Trainer, model: nn.Module, checkpoint: dict[str, Any]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return mode


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _monitored(metrics: dict[str, float], monitor: str, who: str) -> float:
    if monitor not in metrics:
        raise ValueError(f"{who}: metric {monitor!r} not found; this run logs: {', '.join(sorted(metrics))}")
    return float(metrics[monitor])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: an epoch metric, e.g. ``"val_loss"``, ``"val_acc"``, ``"train_loss"``.
        patience: epochs without improvement tolerated.
        mode: ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as improvement.
    """

    def __init__(
        self, monitor: str = "val_loss", patience: int = 3, mode: str = "min", min_delta: float = 0.0
    ):
        self.monitor, self.patience, self.mode, self.min_delta = (
            monitor,
            check_int("patience", patience, 0),
            _check_mode(mode),
            check_float("min_delta", min_delta, 0),
        )
        self.best: float | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    @property
    def state_key(self) -> str:
        return f"EarlyStopping[{self.monitor}]"

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None:
        if trainer.fast_dev_run:
            return
        value = _monitored(metrics, self.monitor, "EarlyStopping")
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = trainer.current_epoch
            trainer.should_stop = True
            trainer.stop_reason = f"early stopping: {self.monitor} did not improve for {self.wait} epochs (best {self.best:.6g})"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]


class ModelCheckpoint(Callback):
    """Save checkpoints at the end of epochs: ``last.pt`` always, ``best.pt`` when ``monitor`` improves.

    Checkpoints hold model, optimiser, scheduler, scaler, RNG states, epoch and step, so
    ``Trainer.fit(..., resume_from=path)`` continues exactly. Only rank 0 writes. Runs after the other
    callbacks of the epoch (``order`` 1), so their state is saved as it stands at the end of the epoch.

    Args:
        dirpath: folder for the files (created); checked to be writable at ``setup``, before the
            first epoch.
        monitor: metric deciding ``best.pt``; ``None`` keeps only ``last.pt``.
        mode: ``"min"`` or ``"max"``.
        every_n_epochs: save ``last.pt`` every this many epochs.

    Attributes:
        last_model_path, best_model_path, best_score.
    """

    order = 1

    def __init__(
        self, dirpath: str | Path, monitor: str | None = None, mode: str = "min", every_n_epochs: int = 1
    ) -> None:
        every_n_epochs = check_int("every_n_epochs", every_n_epochs, 1)
        self.dirpath = Path(dirpath)
        self.monitor, self.mode, self.every_n_epochs = monitor, _check_mode(mode), every_n_epochs
        self.best_score: float | None = None
        self.best_model_path: str | None = None
        self.last_model_path: str | None = None

    @property
    def state_key(self) -> str:
        return f"ModelCheckpoint[{self.monitor}]"

    def setup(self, trainer: Trainer, model: nn.Module, stage: str) -> None:
        if not trainer.fast_dev_run:
            check_writable_dir(self.dirpath, "ModelCheckpoint dirpath")

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None:
        if trainer.fast_dev_run:
            return
        if self.monitor is not None:
            value = _monitored(metrics, self.monitor, "ModelCheckpoint")
            if _improved(value, self.best_score, self.mode, 0.0):
                self.best_score = value
                self.best_model_path = str(self.dirpath / "best.pt")
                trainer.save_checkpoint(self.best_model_path)
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.last_model_path = str(self.dirpath / "last.pt")
            trainer.save_checkpoint(self.last_model_path)

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_model_path": self.best_model_path}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_score, self.best_model_path = state["best_score"], state["best_model_path"]


class ProgressBar(Callback):
    """A tqdm bar over the training batches of each epoch (rank 0 only), refreshed every
    ``refresh_rate`` batches.

    It counts batches, not optimiser steps: with ``accumulate_grad_batches=k`` the bar advances ``k``
    times per optimiser step, and its total is ``trainer.num_training_batches``. The postfix shows the
    epoch's metrics. Refreshing rarely keeps the per-batch cost negligible.
    """

    def __init__(self, refresh_rate: int = 20, file: Any = None) -> None:
        self.refresh_rate, self.file = check_int("refresh_rate", refresh_rate, 1), file
        self._bar = None
        self._pending = 0

    def on_train_epoch_start(self, trainer: Trainer, model: nn.Module) -> None:
        if not trainer.is_global_zero:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=trainer.num_training_batches,
            desc=f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}",
            file=self.file or sys.stderr,
            leave=True,
            dynamic_ncols=True,
        )
        self._pending = 0

    def on_train_batch_end(
        self, trainer: Trainer, model: nn.Module, loss: torch.Tensor, batch_idx: int
    ) -> None:
        if self._bar is None:
            return
        self._pending += 1
        if self._pending >= self.refresh_rate:
            self._bar.update(self._pending)
            self._pending = 0

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None:
        if self._bar is None:
            return
        self._bar.update(self._pending)
        shown = {k: f"{v:.4g}" for k, v in metrics.items() if k.endswith(("loss", "acc", "ppl"))}
        self._bar.set_postfix(shown)
        self._bar.close()
        self._bar = None

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        self._close()

    def on_exception(self, trainer: Trainer, model: nn.Module, error: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LRMonitor(Callback):
    """Record the learning rate of each parameter group after every optimiser step (and its schedule).

    ``lrs`` holds ``(global_step, [lr per group])``; epoch metrics gain ``lr`` (first group) and
    ``lr-group{i}`` for further groups.
    """

    def __init__(self) -> None:
        self.lrs: list[tuple[int, list[float]]] = []

    def on_after_optimizer_step(
        self, trainer: Trainer, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> None:
        if not trainer.fast_dev_run:
            self.lrs.append((trainer.global_step, [g["lr"] for g in optimizer.param_groups]))

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None:
        if trainer.optimizer is None or trainer.fast_dev_run:
            return
        for i, group in enumerate(trainer.optimizer.param_groups):
            metrics["lr" if i == 0 else f"lr-group{i}"] = float(group["lr"])
