"""Loggers: callbacks that write one row of metrics per epoch somewhere a user can open it.

* :class:`CSVLogger`: ``metrics.csv`` and ``metrics.json`` (the trainer's hyper-parameters and every
  epoch) in ``save_dir``, rewritten whole each epoch, so a resumed run's files match its restored
  history.
* :class:`TensorBoardLogger`: TensorBoard event files in ``save_dir`` (needs ``tensorboard``).

Only rank 0 writes, and nothing is written under ``fast_dev_run``. Loggers have ``order`` 1: they run
after the other callbacks of an epoch, so metrics those add (``LRMonitor``'s ``lr``) are logged too.

``Trainer(logger=...)`` takes Lightning's values (:func:`resolve_loggers`): ``True`` or ``None`` (the
default) log to ``log_dir`` with :func:`default_loggers` (CSV/JSON, plus TensorBoard in
``log_dir/tensorboard`` when installed; ``None`` without ``log_dir`` logs nothing), ``False`` logs
nothing, and a logger or a list of loggers replaces the default.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qhybrid._extras import missing_message
from qhybrid._files import atomic_write_csv, atomic_write_text
from qhybrid.classical.training.callbacks import Callback
from qhybrid.classical.validation import ArgumentTypeError, check_writable_dir, describe

if TYPE_CHECKING:
    from torch import nn

    from qhybrid.classical.training.trainer import Trainer

__all__ = [
    "CSVLogger",
    "Logger",
    "TensorBoardLogger",
    "default_loggers",
    "resolve_loggers",
    "tensorboard_available",
]


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class Logger(Callback):
    """Base class: writes ``trainer.history`` after each epoch through :meth:`log_epoch` (rank 0 only).

    Args:
        save_dir: folder for the files (created at the start of ``fit``; checked to be writable at
            ``setup``).
    """

    order = 1

    def __init__(self, save_dir: str | Path) -> None:
        if not isinstance(save_dir, (str, Path)):
            raise ArgumentTypeError(
                f"{type(self).__name__} save_dir must be a path, got {describe(save_dir)}"
            )
        self.save_dir = Path(save_dir)
        self._what = f"{type(self).__name__} save_dir"  # how errors name the folder

    def setup(self, trainer: Trainer, model: nn.Module, stage: str) -> None:
        if not trainer.fast_dev_run:
            check_writable_dir(self.save_dir, self._what)

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        if trainer.is_global_zero and not trainer.fast_dev_run:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            self.start(trainer)

    def on_train_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, float]) -> None:
        if trainer.is_global_zero and not trainer.fast_dev_run:
            self.log_epoch(trainer, trainer.history)

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        self.close()

    def on_exception(self, trainer: Trainer, model: nn.Module, error: BaseException) -> None:
        self.close()

    def start(self, trainer: Trainer) -> None:
        """Open what the logger writes to (rank 0, at the start of ``fit``)."""

    def log_epoch(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and close (at the end of ``fit``, also after an error)."""


class CSVLogger(Logger):
    """``metrics.csv`` (one row per epoch) and ``metrics.json`` (``{"hparams", "epochs"}``) in ``save_dir``."""

    def start(self, trainer: Trainer) -> None:
        self._hparams = trainer.hparams()

    def log_epoch(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        atomic_write_csv(self.save_dir / "metrics.csv", keys, history)
        metrics = json.dumps({"hparams": self._hparams, "epochs": history}, indent=1, default=str)
        atomic_write_text(self.save_dir / "metrics.json", metrics)


class TensorBoardLogger(Logger):
    """TensorBoard scalars (every epoch metric but ``epoch`` and ``step``, at the global step) in ``save_dir``.

    Raises:
        ValueError: ``tensorboard`` is not installed.
    """

    def __init__(self, save_dir: str | Path) -> None:
        if not tensorboard_available():
            raise ValueError(missing_message("tensorboard", "TensorBoardLogger"))
        super().__init__(save_dir)
        self._writer: Any = None

    def start(self, trainer: Trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(self.save_dir))

    def log_epoch(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        if self._writer is None or not history:
            return
        row = history[-1]
        for k, v in row.items():
            if k not in ("epoch", "step"):
                self._writer.add_scalar(k, v, row["step"])
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def default_loggers(log_dir: Path) -> list[Logger]:
    """CSV/JSON metrics in ``log_dir``, and TensorBoard events in ``log_dir/tensorboard`` when installed."""
    loggers: list[Logger] = [CSVLogger(log_dir)]
    if tensorboard_available():
        loggers.append(TensorBoardLogger(log_dir / "tensorboard"))
    for logger in loggers:
        logger._what = "log_dir"
    return loggers


def resolve_loggers(logger: Any, log_dir: Path | None) -> list[Logger]:
    """The loggers ``Trainer(logger=logger, log_dir=log_dir)`` uses (see the module docstring).

    Raises:
        ValueError: ``logger=True`` without a ``log_dir`` to write to.
        TypeError: anything but True, False, None, a Logger or a list of Loggers.
    """
    if logger is None or logger is True:
        if log_dir is not None:
            return default_loggers(log_dir)
        if logger is True:
            raise ValueError(
                "logger=True writes CSV/JSON (and TensorBoard) logs to log_dir: pass log_dir=..., "
                "or a logger such as CSVLogger(path)"
            )
        return []
    if logger is False:
        return []
    loggers = list(logger) if isinstance(logger, (list, tuple)) else [logger]
    for item in loggers:
        if not isinstance(item, Logger):
            raise ArgumentTypeError(
                "logger must be True, False, None, a Logger (CSVLogger, TensorBoardLogger) or a list of "
                f"them, got {describe(item)}"
            )
    return loggers
