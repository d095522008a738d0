"""``Trainer(max_time=...)``: a callback that stops training cleanly once a duration has passed, and
the parser of Lightning's duration forms."""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any

from qhybrid.classical.training.callbacks import Callback
from qhybrid.classical.validation import ArgumentTypeError, describe

if TYPE_CHECKING:
    import torch
    from torch import nn

    from qhybrid.classical.training.trainer import Trainer

__all__ = ["Timer", "parse_duration"]

_DURATION = "'DD:HH:MM:SS', a datetime.timedelta or a dict of timedelta arguments (e.g. {'hours': 1})"


def parse_duration(value: Any, name: str = "max_time") -> datetime.timedelta:
    """A positive duration from Lightning's forms: ``"DD:HH:MM:SS"`` (days, hours, minutes, seconds),
    a ``datetime.timedelta``, or a dict of ``timedelta`` keyword arguments (``{"minutes": 5}``)."""
    if isinstance(value, datetime.timedelta):
        duration = value
    elif isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"{name} must be {_DURATION}, got {value!r}")
        days, hours, minutes, seconds = (int(p) for p in parts)
        duration = datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    elif isinstance(value, dict):
        try:
            duration = datetime.timedelta(**value)
        except TypeError as err:
            raise ValueError(
                f"{name}: {value!r} is not a set of timedelta arguments (days, seconds, microseconds, "
                f"milliseconds, minutes, hours, weeks: numbers): {err}"
            ) from None
    else:
        raise ArgumentTypeError(f"{name} must be {_DURATION}, got {describe(value)}")
    if duration <= datetime.timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value!r}")
    return duration


class Timer(Callback):
    """Stop training once ``duration`` of fit time has passed (what ``Trainer(max_time=...)`` adds).

    Checked after every optimiser step and at the end of every epoch; the stop is clean: the epoch in
    progress ends after its current step, and its metrics, validation and epoch-end callbacks
    (checkpointing) still run. A checkpoint written then counts that epoch as done. The time elapsed is
    stored in checkpoints, so a resumed fit goes on counting from where the interrupted one stopped.
    Under several processes the ranks stop together (any rank's timeout stops all).

    Args:
        duration: ``"DD:HH:MM:SS"``, a ``datetime.timedelta`` or a dict such as ``{"minutes": 30}``.
    """

    def __init__(self, duration: str | datetime.timedelta | dict[str, float]) -> None:
        self.duration = parse_duration(duration, "duration")
        self._offset = 0.0
        self._start: float | None = None

    def time_elapsed(self) -> float:
        """Seconds of fit time counted so far (including what a resumed checkpoint had counted)."""
        running = 0.0 if self._start is None else time.monotonic() - self._start
        return self._offset + running

    def setup(self, trainer: Trainer, model: nn.Module, stage: str) -> None:
        # Each fit gets the whole duration; a resumed one then loads what its checkpoint had counted.
        self._offset, self._start = 0.0, None

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self._start = time.monotonic()

    def on_after_optimizer_step(
        self, trainer: Trainer, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> None:
        self._check(trainer)

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None:
        self._check(trainer)

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        self._offset, self._start = self.time_elapsed(), None  # the count stops with the fit

    def _check(self, trainer: Trainer) -> None:
        elapsed = self.time_elapsed()
        over = elapsed >= self.duration.total_seconds()
        if trainer.world_size > 1:
            over = trainer.strategy.all_reduce([float(over)])[0] > 0
        if over and not trainer.should_stop:
            trainer.should_stop = True
            trainer.stop_reason = (
                f"max_time {self.duration} reached after {elapsed:.1f} s (step {trainer.global_step})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"time_elapsed": self.time_elapsed()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._offset, self._start = float(state["time_elapsed"]), None
