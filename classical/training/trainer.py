"""One object that trains a ``torch.nn.Module`` on whatever accelerator this machine has.

Signature (all arguments keyword-only; each is described in :mod:`.options`)::

    Trainer(max_epochs=10, max_steps=None, accelerator="auto", precision="32", strategy="auto",
            optimizer="adam", lr=1e-3, weight_decay=0.0, optimizer_kwargs=None,
            scheduler=None, scheduler_kwargs=None, loss="auto", batch_size=64,
            accumulate_grad_batches=1, gradient_clip_val=None, callbacks=None, seed=0,
            log_dir=None, log_every_n_steps=50, compile=False, num_workers=0,
            devices="auto", max_time=None, fast_dev_run=False, deterministic=None,
            enable_progress_bar=None, logger=None)

    trainer.fit(model, train_data, val_data=None, resume_from=None, ckpt_path=None) -> Trainer
    trainer.evaluate(model, data) -> dict          # {"loss", "acc" (classification), "ppl" (LM)}
    trainer.validate(model, data), trainer.test(model, data)   # the same, by Lightning's names
    trainer.predict(model, data) -> torch.Tensor   # model outputs, on CPU
    trainer.save_checkpoint(path)

Data (``train_data``, ``val_data``, ``data``): a ``DataLoader`` (used as given), a torch ``Dataset``,
or an ``(X, y)`` pair of arrays/tensors (``predict`` also takes ``X`` alone). Pairs go through a fast
in-memory loader: moved to the device once, reshuffled every epoch from ``seed`` and the epoch number,
sliced into batches of ``batch_size`` without per-sample collation. Float features become float32
(float64 under precision ``"64"``), whichever path they come by; integer targets int64.

The loop itself only orders the work; the rest lives beside it: :mod:`.precision` (autocast, scaler,
clipping), :mod:`.strategy` (one process, DDP, FSDP2), :mod:`.loaders`, :mod:`.metrics`,
:mod:`.checkpoint`, and behaviour added through :mod:`.callbacks` and :mod:`.loggers`. A model written for
Lightning: its ``configure_optimizers`` gives the optimiser; its step hooks are not called, and a warning says
so (:mod:`.lightning_hooks`).

Epoch metrics (``trainer.history``): ``epoch``, ``step``, ``train_loss``, ``train_acc``, ``val_loss``,
``val_acc``, ``train_ppl`` / ``val_ppl`` (language models), ``samples_per_s`` (``tokens_per_s`` for
sequences), ``epoch_time_s``, ``lr``.

A non-finite training loss stops the run with :class:`NonFiniteLossError`; checkpoints already written
(the last good ones) are left untouched.

Example::

    >>> from sklearn.datasets import load_digits
    >>> from qhybrid.classical import MLP, Trainer
    >>> X, y = load_digits(return_X_y=True)
    >>> trainer = Trainer(max_epochs=2, batch_size=64).fit(MLP(64, 10), (X / 16, y))
    >>> trainer.history[-1]["train_acc"] > 0.8
    True
"""

from __future__ import annotations

import datetime
import itertools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qhybrid.classical.accelerators import Accelerator
from qhybrid.classical.training import checkpoint
from qhybrid.classical.training.callbacks import Callback
from qhybrid.classical.training.devices import select_accelerator
from qhybrid.classical.training.lightning_hooks import model_optimizer, warn_uncalled_steps
from qhybrid.classical.training.loaders import TensorLoader, make_loader, split_batch, to_tensor
from qhybrid.classical.training.loggers import Logger
from qhybrid.classical.training.loop import NonFiniteLossError, evaluation_loop, train_epoch
from qhybrid.classical.training.losses import LossInfo, resolve_loss
from qhybrid.classical.training.optim import make_optimizer, make_scheduler
from qhybrid.classical.training.options import TrainerOptions
from qhybrid.classical.training.precision import Precision
from qhybrid.classical.training.rng import deterministic_algorithms, seed_everything
from qhybrid.classical.training.strategy import Strategy

__all__ = ["NonFiniteLossError", "Trainer"]

_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_") or name == "setup")
# Options kept as trainer attributes of the same name (optimizer, scheduler, loss become *_spec).
_STORED = (
    "max_epochs", "max_steps", "seed", "lr", "weight_decay", "optimizer_kwargs", "scheduler_kwargs",
    "batch_size", "accumulate_grad_batches", "gradient_clip_val", "log_every_n_steps", "compile",
    "num_workers", "log_dir", "devices", "max_time", "fast_dev_run", "deterministic", "enable_progress_bar",
)  # fmt: skip


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class Trainer:
    """Train, evaluate and predict with a ``torch.nn.Module``. See the module docstring for the surface
    and :mod:`.options` for every option."""

    def __init__(
        self,
        *,
        max_epochs: int = 10,
        max_steps: int | None = None,
        accelerator: str | torch.device | Accelerator = "auto",
        precision: str | int = "32",
        strategy: str = "auto",
        optimizer: str | Callable[..., torch.optim.Optimizer] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer_kwargs: dict[str, Any] | None = None,
        scheduler: str | Callable[..., Any] | None = None,
        scheduler_kwargs: dict[str, Any] | None = None,
        loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "auto",
        batch_size: int = 64,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        callbacks: Sequence[Callback] | None = None,
        seed: int | None = 0,
        log_dir: str | Path | None = None,
        log_every_n_steps: int = 50,
        compile: bool | dict[str, Any] = False,
        num_workers: int = 0,
        devices: int | str | Sequence[int] = "auto",
        max_time: str | datetime.timedelta | dict[str, float] | None = None,
        fast_dev_run: bool | int = False,
        deterministic: bool | str | None = None,
        enable_progress_bar: bool | None = None,
        logger: bool | Logger | Sequence[Logger] | None = None,
    ) -> None:
        # Every argument goes by name to the options dataclass, which checks it.
        self._configure(TrainerOptions(**{k: v for k, v in locals().items() if k != "self"}))
        self.history: list[dict[str, float]] = []
        self.current_epoch = self.global_step = self.num_training_batches = 0
        self.estimated_stepping_batches = 0  # the fit's optimiser steps at most, as Lightning names it
        self.should_stop, self.stop_reason = False, None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.model: nn.Module | None = None
        self.fit_time_s = 0.0
        self.last_checkpoint_path: str | None = None
        self._loss: LossInfo | None = None
        self._hooks: dict[str, list[Callable[..., None]]] = {}

    def _configure(self, o: TrainerOptions) -> None:
        self.accelerator = select_accelerator(o.accelerator, o.devices)
        self.precision_plugin = Precision(o.precision, self.accelerator)
        self.strategy = Strategy(o.strategy, self.accelerator)
        self.callbacks: list[Callback] = o.all_callbacks()  # (decides enable_progress_bar's None)
        self.optimizer_spec, self.scheduler_spec, self.loss_spec = o.optimizer, o.scheduler, o.loss
        for name in _STORED:
            setattr(self, name, getattr(o, name))

    # --------------------------------------------------------------------------------- properties

    @property
    def is_global_zero(self) -> bool:
        return self.strategy.is_global_zero

    @property
    def device(self) -> torch.device:
        return self.strategy.device

    @property
    def rank(self) -> int:
        return self.strategy.rank

    @property
    def world_size(self) -> int:
        return self.strategy.world_size

    @property
    def precision(self) -> str:
        """The precision's canonical name (``"32"``, ``"64"``, ``"bf16-mixed"``, ``"16-mixed"``)."""
        return self.precision_plugin.name

    @property
    def loggers(self) -> list[Logger]:
        """The logger callbacks of this trainer (``logger`` and any given in ``callbacks``)."""
        return [cb for cb in self.callbacks if isinstance(cb, Logger)]

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """The gradient scaler of a ``"16-mixed"`` fit, else None."""
        return self.precision_plugin.scaler

    def hparams(self) -> dict[str, Any]:
        """The options of this trainer, as stored in logs and checkpoints."""
        names = ("max_epochs", "max_steps", "precision", "lr", "weight_decay", "optimizer_kwargs")
        names += ("scheduler_kwargs", "batch_size", "accumulate_grad_batches", "gradient_clip_val", "seed")
        spec = {k: getattr(self, k) for k in names}
        spec["strategy"] = self.strategy.name
        spec["accelerator"] = str(self.accelerator.device)
        for name in ("optimizer_spec", "scheduler_spec", "loss_spec"):
            v = getattr(self, name)
            spec[name.removesuffix("_spec")] = (
                v if v is None or isinstance(v, str) else getattr(v, "__name__", repr(v))
            )
        spec["world_size"] = self.world_size
        spec["devices"] = self.devices
        spec["max_time_s"] = None if self.max_time is None else self.max_time.total_seconds()
        spec["fast_dev_run"], spec["deterministic"] = self.fast_dev_run, self.deterministic
        return spec

    # --------------------------------------------------------------------------------- fit

    def fit(
        self,
        model: nn.Module,
        train_data: Any,
        val_data: Any = None,
        resume_from: str | Path | None = None,
        ckpt_path: str | Path | None = None,
    ) -> Trainer:
        """Train ``model`` on ``train_data`` for ``max_epochs`` (or ``max_steps``), validating each epoch;
        ``resume_from`` (or Lightning's name for it, ``ckpt_path``) continues a run from its checkpoint.

        Returns the trainer; ``trainer.history`` holds one dict of metrics per epoch and
        ``trainer.model`` the trained model (unwrapped from DDP / compile).
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if resume_from is not None and ckpt_path is not None:
            raise ValueError(
                "give resume_from or ckpt_path (the same checkpoint, Lightning's name), not both"
            )
        resume_from = resume_from if resume_from is not None else ckpt_path
        warn_uncalled_steps(model)
        ckpt = None if resume_from is None else checkpoint.load_checkpoint(resume_from)
        # Each hook's overriding callbacks, in order: the loop calls nothing a callback leaves alone.
        self._hooks = {n: [getattr(cb, n) for cb in self.callbacks if _overrides(cb, n)] for n in _HOOKS}
        # Callbacks check their folders here, before any work: an unwritable one would otherwise fail
        # after an epoch.
        for setup in self._hooks["setup"]:
            setup(self, model, "fit")
        self.strategy.setup()
        if self.seed is not None:
            seed_everything(self.seed)
        train_loader = self._loader(train_data, train=True, what="train_data")
        val_loader = None if val_data is None else self._loader(val_data, train=False, what="val_data")
        _check_same_features(train_loader, val_loader)
        # In-memory targets decide the loss now; a loader's are seen with its first batch.
        self._loss = (
            resolve_loss(self.loss_spec, train_loader.y) if isinstance(train_loader, TensorLoader) else None
        )
        if ckpt is not None:
            checkpoint.load_model_state(model, ckpt, resume_from)
        train_model, eval_model = self._setup_model(model, len(train_loader))
        start_epoch = 0 if ckpt is None else checkpoint.restore(self, ckpt, train_model)
        with deterministic_algorithms(self.deterministic):
            self._run(train_model, eval_model, train_loader, val_loader, start_epoch)
        return self

    def _setup_model(self, model: nn.Module, n_batches: int) -> tuple[nn.Module, nn.Module]:
        """Wrap the model, make optimiser, schedule and scaler, and reset the run's state."""
        self.num_training_batches = min(n_batches, self.fast_dev_run or n_batches)
        n_batches = self.num_training_batches
        total_steps = math.ceil(n_batches / self.accumulate_grad_batches) * self.max_epochs
        if self.max_steps is not None:
            total_steps = min(total_steps, self.max_steps)
        self.estimated_stepping_batches = total_steps
        model = self.precision_plugin.convert_module(model)
        train_model, eval_model, self.model = self.strategy.wrap(model, self.compile)
        self.optimizer = model_optimizer(self.model)  # a LightningModule's configure_optimizers
        if self.optimizer is None:
            self.optimizer = make_optimizer(
                self.optimizer_spec, train_model, self.lr, self.weight_decay, self.optimizer_kwargs
            )
        self.scheduler = make_scheduler(
            self.scheduler_spec, self.optimizer, max(1, total_steps), self.lr, self.scheduler_kwargs
        )
        self.precision_plugin.setup()
        self.history, self.global_step = [], 0
        self.should_stop, self.stop_reason = False, None
        return train_model, eval_model

    def _run(
        self,
        train_model: nn.Module,
        eval_model: nn.Module,
        train_loader: Any,
        val_loader: Any,
        start_epoch: int,
    ) -> None:
        self.current_epoch = start_epoch
        t_fit = time.perf_counter()
        try:
            self._hook("on_fit_start")
            for epoch in range(start_epoch, self.max_epochs):
                if self.should_stop or self._max_steps_reached():
                    break
                self.current_epoch = epoch
                metrics = train_epoch(self, train_model, train_loader, epoch)
                if val_loader is not None:
                    self._hook("on_validation_start")
                    val = evaluation_loop(self, eval_model, val_loader, self.fast_dev_run or None)
                    metrics.update({f"val_{k}": v for k, v in val.items()})
                    self._hook("on_validation_end", metrics)
                self.history.append(metrics)
                self._hook("on_train_epoch_end", metrics)
            self._hook("on_fit_end")
        except BaseException as err:
            self._hook("on_exception", err)
            raise
        finally:
            self.fit_time_s += time.perf_counter() - t_fit

    def _max_steps_reached(self) -> bool:
        return self.max_steps is not None and self.global_step >= self.max_steps

    def _hook(self, name: str, *args: Any) -> None:
        for fn in self._hooks[name]:
            fn(self, self.model, *args)

    def _loader(self, data: Any, *, train: bool, what: str, sharded: bool = True) -> Any:
        return make_loader(
            data,
            train=train,
            what=what,
            batch_size=self.batch_size,
            seed=0 if self.seed is None else self.seed,
            precision=self.precision_plugin,
            device=self.device,
            rank=self.rank if sharded else 0,
            world=self.world_size if sharded else 1,
            num_workers=self.num_workers,
        )

    # --------------------------------------------------------------------------------- evaluate / predict

    def _prepare_eval_model(self, model: nn.Module) -> nn.Module:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        return self.precision_plugin.convert_module(model).to(self.device)

    def evaluate(self, model: nn.Module, data: Any) -> dict[str, float]:
        """Loss (and ``acc`` for classification, ``ppl`` for language models) of ``model`` on ``data``."""
        model = self._prepare_eval_model(model)
        loader = self._loader(data, train=False, what="data")
        if isinstance(loader, TensorLoader):
            self._loss = resolve_loss(self.loss_spec, loader.y)
        with deterministic_algorithms(self.deterministic):
            return evaluation_loop(self, model, loader, self.fast_dev_run or None)

    def validate(self, model: nn.Module, data: Any) -> dict[str, float]:
        """:meth:`evaluate`, by Lightning's name."""
        return self.evaluate(model, data)

    def test(self, model: nn.Module, data: Any) -> dict[str, float]:
        """:meth:`evaluate`, by Lightning's name."""
        return self.evaluate(model, data)

    @torch.no_grad()
    def predict(self, model: nn.Module, data: Any) -> torch.Tensor:
        """Model outputs for every sample of ``data`` (``X``, ``(X, y)``, Dataset or DataLoader), on CPU.

        Runs in this process only (no sharding), in evaluation mode.
        """
        model = self._prepare_eval_model(model)
        precision = self.precision_plugin
        # A tuple of two is an (X, y) pair; a list is always rows of X.
        if isinstance(data, (np.ndarray, torch.Tensor, list)) or (isinstance(data, tuple) and len(data) != 2):
            X = precision.convert_input(to_tensor(data, "data"))
            if len(X) == 0:
                raise ValueError("data is empty (0 samples)")
            loader: Any = TensorLoader(X.to(self.device), None, self.batch_size, shuffle=False, seed=0)
        else:
            loader = self._loader(data, train=False, what="data", sharded=False)
        was_training = model.training
        model.eval()
        outs = []
        with deterministic_algorithms(self.deterministic):
            for batch in itertools.islice(loader, self.fast_dev_run or None):
                x, _ = split_batch(batch, self.device, precision)
                with precision.forward_context():
                    out = model(x)
                if self.accelerator.is_xla:
                    self.accelerator.sync()
                outs.append(precision.convert_output(out).cpu())
        model.train(was_training)
        return torch.cat(outs)

    # --------------------------------------------------------------------------------- checkpoints

    def model_state_dict(self) -> dict[str, torch.Tensor]:
        """The model's whole, unsharded state dict, as a plain model's ``state_dict()`` would give it.

        Under FSDP the shards are gathered to rank 0, so every rank must call it; elsewhere it is the
        model's own state dict (without a DDP wrapper's ``module.`` prefix)."""
        return self.strategy.model_state_dict(self.model)

    def save_checkpoint(self, path: str | Path) -> None:
        """Write a checkpoint of the running fit (rank 0 only; written to a temp file, then renamed)."""
        if self.model is None:
            raise ValueError("save_checkpoint needs a model: call it during or after fit()")
        state = checkpoint.checkpoint_state(self)  # every rank takes part in gathering sharded state
        self.last_checkpoint_path = str(path)
        if self.is_global_zero:
            checkpoint.write_checkpoint(state, path)

    @staticmethod
    def load_checkpoint(path: str | Path) -> dict[str, Any]:
        """Read a checkpoint written by :meth:`save_checkpoint` (tensors on CPU)."""
        return checkpoint.load_checkpoint(path)


def _check_same_features(train: Any, val: Any) -> None:
    """In-memory validation inputs shaped like the training inputs (a wrong width would fail inside the
    model's first product, after a whole epoch); loaders are checked by the model on their first batch."""
    if not (isinstance(train, TensorLoader) and isinstance(val, TensorLoader)):
        return
    if tuple(val.X.shape[1:]) != tuple(train.X.shape[1:]):
        raise ValueError(
            f"val_data inputs have shape (n, {', '.join(map(str, val.X.shape[1:]))}) but train_data's are "
            f"(n, {', '.join(map(str, train.X.shape[1:]))}): give validation samples with the same features"
        )
