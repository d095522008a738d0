"""The Trainer's options, checked where they enter: every bad value raises one error naming it and what
is allowed, at construction, before any work.

Options:

* ``max_epochs``, ``max_steps``: training stops at whichever comes first (``max_steps`` counts
  optimiser steps; ``None`` for no limit).
* ``accelerator``: see :func:`classical.resolve_accelerator` (``auto``, ``cpu``, ``cuda``, ``cuda:N``,
  ``tpu``, ``mps``). On a torch_xla TPU each optimiser step and each evaluation batch ends with
  ``torch_xla.sync()``, which cuts and runs the lazily built graph.
* ``precision``: ``"32"``, ``"64"`` (model and float inputs in float64), ``"bf16-mixed"``
  (``torch.autocast`` to bfloat16), ``"16-mixed"`` (CUDA only: float16 autocast with a gradient
  scaler); see :mod:`.precision`.
* ``strategy``: ``"auto"`` (DDP when launched with several processes, e.g. by ``torchrun``), ``"ddp"``,
  ``"fsdp"`` (FSDP2 ``fully_shard``), ``"single"``. Under DDP ``batch_size`` is per process, data are
  sharded by rank, metrics are averaged over all ranks, and only rank 0 logs and writes checkpoints.
  FSDP checkpoints hold the full (gathered) model and optimiser state, so they load anywhere.
* ``optimizer``: ``"sgd"`` (momentum 0.9 unless ``optimizer_kwargs`` say otherwise), ``"adam"``,
  ``"adamw"``, or a callable ``params -> Optimizer``; ``lr``, ``weight_decay`` (on weight matrices, not on
  biases or normalisation gains, as nanoGPT; ``optimizer_kwargs={"weight_decay": ...}`` decays every one).
* ``scheduler``: ``None``, ``"cosine"``, ``"step"`` (``step_size`` optimiser steps, default a third of
  the run, ``gamma`` 0.1), ``"onecycle"`` (peak ``lr``), or a callable ``(optimizer, total_steps) ->
  LRScheduler``. Schedulers step once per optimiser step.
* ``loss``: ``"auto"`` (cross-entropy for integer targets, mean squared error for float targets),
  ``"cross_entropy"``, ``"mse"``, ``"l1"``, ``"bce"`` (with logits), or a callable ``(output, target)``.
  Cross-entropy accepts sequence logits ``(batch, T, vocab)`` against targets ``(batch, T)`` (language
  models; then perplexity is reported too).
* ``batch_size``, ``accumulate_grad_batches`` (one optimiser step per this many batches),
  ``gradient_clip_val`` (global gradient norm), ``num_workers`` (for ``Dataset`` inputs).
* ``callbacks``: :class:`~.callbacks.Callback` instances (a list, or one).
* ``seed``: seeds python, numpy and torch at ``fit``; ``None`` leaves them alone. On CPU the same seed
  gives the same weights, and a run stopped after k epochs and resumed from its checkpoint ends with
  the weights of the uninterrupted run.
* ``log_dir``: writes ``metrics.csv`` and ``metrics.json`` (one row per epoch) and TensorBoard events
  when ``tensorboard`` is installed (:mod:`.loggers`).
* ``log_every_n_steps``: how often (in optimiser steps) the training loss is checked to be finite; the
  check is the loop's only host synchronisation.
* ``compile``: ``True`` or a dict of ``torch.compile`` keyword arguments.

Lightning's arguments, with Lightning's meanings:

* ``devices``: ``"auto"``, a number of devices, a list of device indices or ``-1``; one process drives
  one device, so without ``torchrun`` it must come to one (``1``, ``[0]``, ``[i]`` for CUDA device
  ``i``); see :mod:`.devices`.
* ``max_time``: stop cleanly once this much fit time has passed, checked after every optimiser step:
  ``"DD:HH:MM:SS"``, a ``datetime.timedelta`` or a dict such as ``{"minutes": 30}`` (adds a
  :class:`~.timer.Timer`). Training ends at ``max_epochs``, ``max_steps`` or ``max_time``,
  whichever comes first.
* ``fast_dev_run``: ``True`` runs 1 training and 1 validation batch (``n`` runs ``n`` of each) in one
  epoch, to find bugs quickly; ``evaluate`` and ``predict`` also run ``n`` batches. Checkpointing, early
  stopping, ``LRMonitor`` and logging do nothing; ``history`` is still kept.
* ``deterministic``: ``True`` sets ``torch.use_deterministic_algorithms(True)`` (operations without a
  deterministic implementation raise) and deterministic cuDNN without autotuning, ``"warn"`` the same
  but such operations warn, ``False`` allows nondeterministic algorithms, ``None`` leaves torch as it
  is. Unlike Lightning, which sets them for the rest of the process, the settings hold during ``fit``,
  ``evaluate`` and ``predict`` and are restored afterwards.
* ``enable_progress_bar``: adds a :class:`~.callbacks.ProgressBar` unless ``callbacks`` hold one;
  ``None`` (default) turns it on when standard output is a terminal.
* ``logger``: ``True``/``None`` the default loggers in ``log_dir`` (CSV/JSON, TensorBoard when
  installed), ``False`` none, or a :class:`~.loggers.Logger` or list of them; see :mod:`.loggers`.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qhybrid.classical.training.callbacks import Callback, ProgressBar
from qhybrid.classical.training.devices import parse_devices
from qhybrid.classical.training.loggers import Logger, resolve_loggers
from qhybrid.classical.training.losses import check_loss_spec
from qhybrid.classical.training.optim import check_optimizer_spec
from qhybrid.classical.training.rng import check_deterministic
from qhybrid.classical.training.timer import Timer, parse_duration
from qhybrid.classical.validation import (
    MAX_EPOCHS,
    MAX_STEPS,
    ArgumentTypeError,
    check_bool,
    check_float,
    check_int,
    check_seed,
    describe,
)

__all__ = ["TrainerOptions"]


@dataclass(kw_only=True)
class TrainerOptions:
    """Every ``Trainer`` argument, validated and normalised by ``__post_init__`` (see the module docstring)."""

    max_epochs: int
    max_steps: int | None
    accelerator: Any
    precision: str | int
    strategy: str
    optimizer: str | Callable[..., Any]
    lr: float
    weight_decay: float
    optimizer_kwargs: dict[str, Any] | None
    scheduler: str | Callable[..., Any] | None
    scheduler_kwargs: dict[str, Any] | None
    loss: str | Callable[..., Any]
    batch_size: int
    accumulate_grad_batches: int
    gradient_clip_val: float | None
    callbacks: Sequence[Callback] | None
    seed: int | None
    log_dir: str | Path | None
    log_every_n_steps: int
    compile: bool | dict[str, Any]
    num_workers: int
    devices: Any
    max_time: str | datetime.timedelta | dict[str, float] | None
    fast_dev_run: bool | int
    deterministic: bool | str | None
    enable_progress_bar: bool | None
    logger: Any
    loggers: list[Logger] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("batch_size", "accumulate_grad_batches", "log_every_n_steps"):
            check_int(name, getattr(self, name), 1)
        check_int("max_epochs", self.max_epochs, 1, MAX_EPOCHS)
        check_int("max_steps", self.max_steps, 1, MAX_STEPS, allow_none=True)
        check_int("num_workers", self.num_workers, 0)
        check_optimizer_spec(self.optimizer, self.scheduler)
        check_loss_spec(self.loss)
        self.lr = check_float("lr", self.lr, 0, low_open=True)
        self.weight_decay = check_float("weight_decay", self.weight_decay, 0)
        self.gradient_clip_val = check_float(
            "gradient_clip_val", self.gradient_clip_val, 0, low_open=True, allow_none=True
        )
        self.seed = check_seed("seed", self.seed)
        if not isinstance(self.compile, (bool, dict)):
            raise TypeError(
                f"compile must be a bool or a dict of torch.compile options, got {type(self.compile).__name__}"
            )
        self.optimizer_kwargs = dict(self.optimizer_kwargs or {})
        self.scheduler_kwargs = dict(self.scheduler_kwargs or {})
        if isinstance(self.callbacks, Callback):  # Lightning takes one callback as well as a list
            self.callbacks = [self.callbacks]
        self.callbacks = list(self.callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        self.log_dir = None if self.log_dir is None else Path(self.log_dir)
        self._check_lightning_arguments()

    def _check_lightning_arguments(self) -> None:
        self.devices = parse_devices(self.devices)
        self.max_time = None if self.max_time is None else parse_duration(self.max_time, "max_time")
        if isinstance(self.fast_dev_run, bool):
            self.fast_dev_run = int(self.fast_dev_run)
        elif not isinstance(self.fast_dev_run, int):
            raise ArgumentTypeError(
                f"fast_dev_run must be True, False or a number of batches >= 0, got {describe(self.fast_dev_run)}"
            )
        elif self.fast_dev_run < 0:
            raise ValueError(
                f"fast_dev_run must be True, False or a number of batches >= 0, got {self.fast_dev_run}"
            )
        if self.fast_dev_run:
            self.max_epochs = 1
        self.deterministic = check_deterministic(self.deterministic)
        if self.enable_progress_bar is not None:
            check_bool("enable_progress_bar", self.enable_progress_bar)
        self.loggers = resolve_loggers(self.logger, self.log_dir)

    def all_callbacks(self) -> list[Callback]:
        """The given callbacks, plus the loggers, the progress bar and the timer the options ask for,
        in the order they run."""
        callbacks = list(self.callbacks)
        callbacks += [lg for lg in self.loggers if not any(lg is cb for cb in callbacks)]
        bars = [cb for cb in callbacks if isinstance(cb, ProgressBar)]
        if bars and self.enable_progress_bar is False:
            raise ValueError(
                "enable_progress_bar=False, but callbacks hold a ProgressBar: remove one of them"
            )
        wanted = self.enable_progress_bar
        if wanted is None:  # on in a terminal, off in logs, pipes and tests
            wanted = sys.stdout is not None and sys.stdout.isatty()
        if wanted and not bars:
            callbacks.append(ProgressBar())
        self.enable_progress_bar = bool(wanted or bars)
        if self.max_time is not None:
            if any(isinstance(cb, Timer) for cb in callbacks):
                raise ValueError("max_time is given and callbacks hold a Timer: use one of them")
            callbacks.append(Timer(self.max_time))
        return sorted(callbacks, key=lambda cb: cb.order)
