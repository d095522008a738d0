"""One object that trains a ``torch.nn.Module`` on whatever accelerator this machine has.

Signature (all arguments keyword-only)::

    Trainer(max_epochs=10, max_steps=None, accelerator="auto", precision="32", strategy="auto",
            optimizer="adam", lr=1e-3, weight_decay=0.0, optimizer_kwargs=None,
            scheduler=None, scheduler_kwargs=None, loss="auto", batch_size=64,
            accumulate_grad_batches=1, gradient_clip_val=None, callbacks=None, seed=0,
            log_dir=None, log_every_n_steps=50, compile=False, num_workers=0)

    trainer.fit(model, train_data, val_data=None, resume_from=None) -> Trainer
    trainer.evaluate(model, data) -> dict          # {"loss", "acc" (classification), "ppl" (LM)}
    trainer.predict(model, data) -> torch.Tensor   # model outputs, on CPU
    trainer.save_checkpoint(path)

Data (``train_data``, ``val_data``, ``data``): a ``DataLoader`` (used as given), a torch ``Dataset``,
or an ``(X, y)`` pair of arrays/tensors (``predict`` also takes ``X`` alone). Pairs go through a fast
in-memory loader: moved to the device once, reshuffled every epoch from ``seed`` and the epoch number,
sliced into batches of ``batch_size`` without per-sample collation. Float features become float32,
integer targets int64.

Options:

* ``accelerator``: see :func:`classical.resolve_accelerator` (``auto``, ``cpu``, ``cuda``, ``cuda:N``,
  ``tpu``, ``mps``). On a torch_xla TPU each optimiser step and each evaluation batch ends with
  ``torch_xla.sync()``, which cuts and runs the lazily built graph.
* ``precision``: ``"32"``, ``"64"`` (model and float inputs in float64), ``"bf16-mixed"``
  (``torch.autocast`` to bfloat16), ``"16-mixed"`` (CUDA only: float16 autocast with a gradient scaler).
* ``strategy``: ``"auto"`` (DDP when launched with several processes, e.g. by ``torchrun``), ``"ddp"``,
  ``"fsdp"`` (FSDP2 ``fully_shard``), ``"single"``. Under DDP ``batch_size`` is per process, data are
  sharded by rank, metrics are averaged over all ranks, and only rank 0 logs and writes checkpoints.
  FSDP checkpoints hold the full (gathered) model and optimiser state, so they load anywhere.
* ``optimizer``: ``"sgd"`` (momentum 0.9 unless ``optimizer_kwargs`` say otherwise), ``"adam"``,
  ``"adamw"``, or a callable ``params -> Optimizer``.
* ``scheduler``: ``None``, ``"cosine"``, ``"step"`` (``step_size`` optimiser steps, default a third of
  the run, ``gamma`` 0.1), ``"onecycle"`` (peak ``lr``), or a callable ``(optimizer, total_steps) ->
  LRScheduler``. Schedulers step once per optimiser step.
* ``loss``: ``"auto"`` (cross-entropy for integer targets, mean squared error for float targets),
  ``"cross_entropy"``, ``"mse"``, ``"l1"``, ``"bce"`` (with logits), or a callable ``(output, target)``.
  Cross-entropy accepts sequence logits ``(batch, T, vocab)`` against targets ``(batch, T)`` (language
  models; then perplexity is reported too).
* ``compile``: ``True`` or a dict of ``torch.compile`` keyword arguments.
* ``seed``: seeds python, numpy and torch at ``fit``; ``None`` leaves them alone. On CPU the same seed
  gives the same weights, and a run stopped after k epochs and resumed from its checkpoint ends with
  the weights of the uninterrupted run.
* ``log_dir``: writes ``metrics.csv`` and ``metrics.json`` (one row per epoch) and TensorBoard events
  when ``tensorboard`` is installed.

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

import atexit
import contextlib
import csv
import importlib.util
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from qhybrid.classical.accelerators import Accelerator, resolve_accelerator
from qhybrid.classical.callbacks import Callback, ModelCheckpoint
from qhybrid.classical.validation import (
    check_finite_array,
    check_float,
    check_int,
    check_seed,
    check_writable_dir,
    read_checkpoint,
)

__all__ = ["NonFiniteLossError", "Trainer", "seed_everything"]

PRECISIONS = ("32", "64", "bf16-mixed", "16-mixed")
_PRECISION_ALIASES = {"32-true": "32", "64-true": "64", "bf16": "bf16-mixed", "16": "16-mixed"}
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "step", "onecycle")
LOSSES = ("auto", "cross_entropy", "mse", "l1", "bce")
STRATEGIES = ("auto", "single", "ddp", "fsdp")
_CHECKPOINT_VERSION = 1


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the run stopped and earlier checkpoints were kept."""


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------- RNG state


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------- data


class _TensorLoader:
    """Batches of in-memory tensors: one permutation per epoch, then contiguous slices.

    Shuffling is seeded from ``(seed, epoch)``, so it consumes no global random state and an epoch's
    order is the same whether or not the run was interrupted. With ``world > 1`` it shards like
    ``DistributedSampler``: pad the permutation to a multiple of ``world`` and give rank r every
    world-th index from r, so the ranks' batches i together are the single-process batch i of size
    ``world * batch_size``.
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor | None,
        batch_size: int,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world: int = 1,
        pad: bool = True,
    ) -> None:
        self.X, self.y, self.batch_size, self.shuffle, self.seed = X, y, batch_size, shuffle, seed
        self.rank, self.world, self.pad = rank, world, pad
        self.epoch = 0
        n = len(X)
        self._n_local = math.ceil(n / world) if pad else len(range(rank, n, world))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def num_samples(self) -> int:
        return self._n_local

    def __len__(self) -> int:
        return math.ceil(self._n_local / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.X)
        X, y = self.X, self.y
        if self.shuffle or self.world > 1:
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
                idx = torch.randperm(n, generator=g)
            else:
                idx = torch.arange(n)
            if self.world > 1:
                if self.pad and n % self.world:
                    idx = torch.cat([idx, idx[: self.world - n % self.world]])
                idx = idx[self.rank :: self.world]
            idx = idx.to(X.device)
            X = X.index_select(0, idx)
            y = None if y is None else y.index_select(0, idx)
        bs = self.batch_size
        for i in range(0, len(X), bs):
            yield (X[i : i + bs],) if y is None else (X[i : i + bs], y[i : i + bs])


def _to_tensor(a: Any, what: str, float64: bool = False) -> torch.Tensor:
    """``a`` as a tensor: float64 becomes float32 unless ``float64`` (precision "64") keeps it."""
    if isinstance(a, torch.Tensor):
        t = a
    else:
        try:
            t = torch.as_tensor(np.asarray(a))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what} must be an array or tensor, got {type(a).__name__}: {err}") from None
    if t.is_floating_point() and t.dtype == torch.float64 and not float64:
        t = t.float()
    elif t.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
        t = t.long()
    elif t.dtype == torch.bool:
        t = t.float()
    return t


def _data_len(data: Any) -> int | None:
    try:
        return len(data.dataset) if isinstance(data, DataLoader) else len(data)
    except TypeError:
        return None  # iterable data sets have no length


# ------------------------------------------------------------------------------------------- losses


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == 3:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    return F.cross_entropy(out, y)


def _bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1:
        out = out.squeeze(1)
    return F.binary_cross_entropy_with_logits(out, y.to(out.dtype))


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1:
        out = out.squeeze(1)
    return F.mse_loss(out, y.to(out.dtype))


def _l1(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1:
        out = out.squeeze(1)
    return F.l1_loss(out, y.to(out.dtype))


_LOSS_FNS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cross_entropy": _cross_entropy,
    "mse": _mse,
    "l1": _l1,
    "bce": _bce,
}


# ------------------------------------------------------------------------------------------- logging


class _Loggers:
    """CSV + JSON (+ TensorBoard when installed) epoch logs; rewritten whole each epoch, so a resumed
    run's files match its restored history."""

    def __init__(self, log_dir: Path, hparams: dict[str, Any]) -> None:
        self.dir = log_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hparams = hparams
        self.tb = None
        if importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(log_dir / "tensorboard"))

    def log_epoch(self, history: list[dict[str, float]]) -> None:
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        with open(self.dir / "metrics.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)
        tmp = self.dir / "metrics.json.tmp"
        tmp.write_text(json.dumps({"hparams": self.hparams, "epochs": history}, indent=1, default=str))
        tmp.replace(self.dir / "metrics.json")
        if self.tb is not None and history:
            row = history[-1]
            for k, v in row.items():
                if k not in ("epoch", "step"):
                    self.tb.add_scalar(k, v, row["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# ------------------------------------------------------------------------------------------- trainer


class Trainer:
    """Train, evaluate and predict with a ``torch.nn.Module``. See the module docstring for every option."""

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
    ) -> None:
        for name, value in (
            ("max_epochs", max_epochs),
            ("batch_size", batch_size),
            ("accumulate_grad_batches", accumulate_grad_batches),
            ("log_every_n_steps", log_every_n_steps),
        ):
            check_int(name, value, 1)
        check_int("max_steps", max_steps, 1, allow_none=True)
        check_int("num_workers", num_workers, 0)
        precision = _PRECISION_ALIASES.get(str(precision), str(precision))
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
        if isinstance(optimizer, str) and optimizer.lower() not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)} or a callable"
            )
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
        if isinstance(loss, str) and loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; allowed: {', '.join(LOSSES)} or a callable")
        if not isinstance(loss, str) and not callable(loss):
            raise TypeError(
                f"loss must be a name or a callable (output, target) -> loss, got {type(loss).__name__}"
            )
        lr = check_float("lr", lr, 0, low_open=True)
        weight_decay = check_float("weight_decay", weight_decay, 0)
        gradient_clip_val = check_float(
            "gradient_clip_val", gradient_clip_val, 0, low_open=True, allow_none=True
        )
        seed = check_seed("seed", seed)
        if not isinstance(compile, (bool, dict)):
            raise TypeError(
                f"compile must be a bool or a dict of torch.compile options, got {type(compile).__name__}"
            )
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        self.accelerator = resolve_accelerator(accelerator)
        if precision == "16-mixed" and self.accelerator.kind != "cuda":
            raise ValueError(
                f"precision '16-mixed' needs CUDA (float16 autocast with a gradient scaler); this run is on "
                f"{self.accelerator.kind}: use 'bf16-mixed' or '32'"
            )
        self.max_epochs, self.max_steps, self.precision, self.strategy = (
            max_epochs,
            max_steps,
            precision,
            strategy,
        )
        self.optimizer_spec, self.lr, self.weight_decay = optimizer, lr, weight_decay
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.scheduler_spec, self.scheduler_kwargs = scheduler, dict(scheduler_kwargs or {})
        self.loss_spec, self.batch_size, self.accumulate_grad_batches = (
            loss,
            batch_size,
            accumulate_grad_batches,
        )
        self.gradient_clip_val, self.seed, self.log_every_n_steps = gradient_clip_val, seed, log_every_n_steps
        self.compile, self.num_workers = compile, num_workers
        self.log_dir = None if log_dir is None else Path(log_dir)
        # Checkpointing runs after the other callbacks of an epoch so that their state is saved current.
        self.callbacks = sorted(callbacks, key=lambda cb: isinstance(cb, ModelCheckpoint))
        self.history: list[dict[str, float]] = []
        self.current_epoch = 0
        self.global_step = 0
        self.should_stop = False
        self.stop_reason: str | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.scaler: torch.amp.GradScaler | None = None
        self.model: nn.Module | None = None
        self.num_training_batches = 0
        self.fit_time_s = 0.0
        self.rank, self.world_size = 0, 1
        self._device = self.accelerator.device
        self._loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
        self._classify = False
        self._loss_name = "auto"

    # --------------------------------------------------------------------------------- properties

    @property
    def is_global_zero(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        return self._device

    def hparams(self) -> dict[str, Any]:
        """The options of this trainer, as stored in logs and checkpoints."""
        spec = {
            k: getattr(self, k)
            for k in (
                "max_epochs",
                "max_steps",
                "precision",
                "strategy",
                "lr",
                "weight_decay",
                "optimizer_kwargs",
                "scheduler_kwargs",
                "batch_size",
                "accumulate_grad_batches",
                "gradient_clip_val",
                "seed",
            )
        }
        spec["accelerator"] = str(self.accelerator.device)
        for name in ("optimizer_spec", "scheduler_spec", "loss_spec"):
            v = getattr(self, name)
            spec[name.removesuffix("_spec")] = (
                v if v is None or isinstance(v, str) else getattr(v, "__name__", repr(v))
            )
        spec["world_size"] = self.world_size
        return spec

    # --------------------------------------------------------------------------------- set-up

    def _setup_distributed(self) -> bool:
        import torch.distributed as dist

        env_world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        wanted = self.strategy in ("ddp", "fsdp") or (
            self.strategy == "auto"
            and (
                env_world > 1 or (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)
            )
        )
        if not wanted:
            self.rank, self.world_size = 0, 1
            return False
        if not dist.is_available():
            raise ValueError(
                f"strategy {self.strategy!r} needs torch.distributed, which this torch build lacks"
            )
        if not dist.is_initialized():
            if "MASTER_ADDR" not in os.environ:
                raise ValueError(
                    f"strategy {self.strategy!r}: no process group and no torchrun environment; launch with "
                    "`torchrun --nproc-per-node N script.py` or classical.distributed.launch(...)"
                )
            dist.init_process_group("nccl" if self.accelerator.kind == "cuda" else "gloo")
            # Freeing the group at exit avoids gloo's "terminate called without an active exception".
            atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if self.accelerator.kind == "cuda":
            local = int(os.environ.get("LOCAL_RANK", self.rank % max(1, torch.cuda.device_count())))
            self._device = torch.device("cuda", local)
            torch.cuda.set_device(self._device)
        return self.world_size > 1 or self.strategy in ("ddp", "fsdp")

    def _loader(self, data: Any, *, train: bool, what: str) -> _TensorLoader | DataLoader:
        """Turn user data into something iterable over batches, sharded when distributed."""
        if data is None:
            raise ValueError(f"{what} is None; pass a DataLoader, a Dataset or an (X, y) pair")
        if isinstance(data, (tuple, list)) and len(data) == 2:
            return self._pair_loader(data, train=train, what=what)
        n = _data_len(data)
        if n == 0:
            raise ValueError(f"{what} is empty (0 samples)")
        seed = 0 if self.seed is None else self.seed
        if isinstance(data, DataLoader):
            if self.world_size > 1 and not isinstance(data.sampler, torch.utils.data.DistributedSampler):
                from torch.utils.data import DistributedSampler, RandomSampler

                sampler = DistributedSampler(
                    data.dataset,
                    num_replicas=self.world_size,
                    rank=self.rank,
                    shuffle=isinstance(data.sampler, RandomSampler),
                    seed=seed,
                    drop_last=False,
                )
                return DataLoader(
                    data.dataset,
                    batch_size=data.batch_size,
                    sampler=sampler,
                    num_workers=data.num_workers,
                    collate_fn=data.collate_fn,
                    pin_memory=data.pin_memory,
                    drop_last=data.drop_last,
                )
            return data
        if isinstance(data, Dataset):
            if self.world_size > 1:
                from torch.utils.data import DistributedSampler

                sampler = DistributedSampler(
                    data, num_replicas=self.world_size, rank=self.rank, shuffle=train, seed=seed
                )
                return DataLoader(
                    data, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers
                )
            g = torch.Generator().manual_seed(seed)
            return DataLoader(
                data, batch_size=self.batch_size, shuffle=train, generator=g, num_workers=self.num_workers
            )
        raise TypeError(
            f"{what} must be a DataLoader, a Dataset or an (X, y) pair, got {type(data).__name__}"
        )

    def _pair_loader(self, data: Any, *, train: bool, what: str) -> _TensorLoader:
        """In-memory batches of an ``(X, y)`` pair, checked first: lengths, NaN/inf, no autograd graph."""
        f64 = self.precision == "64"
        X, y = _to_tensor(data[0], f"{what} X", f64), _to_tensor(data[1], f"{what} y", f64)
        if len(X) != len(y):
            raise ValueError(f"{what}: X has {len(X)} samples but y has {len(y)}")
        if len(X) == 0:
            raise ValueError(f"{what} is empty (0 samples)")
        for name, t in ((f"{what} X", X), (f"{what} y", y)):
            if t.requires_grad:
                raise ValueError(
                    f"{name} is a tensor with requires_grad=True; the trainer differentiates the model's "
                    f"parameters only: pass it detached (x.detach())"
                )
            if t.is_floating_point():
                check_finite_array(name, t)
        if f64 and X.is_floating_point():
            X = X.double()
        seed = 0 if self.seed is None else self.seed
        return _TensorLoader(
            X.to(self._device),
            y.to(self._device),
            self.batch_size,
            shuffle=train,
            seed=seed,
            rank=self.rank,
            world=self.world_size,
            pad=train,
        )

    def _make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters")
        spec = self.optimizer_spec
        if not isinstance(spec, str):
            return spec(params)
        kwargs = dict(self.optimizer_kwargs)
        kwargs.setdefault("weight_decay", self.weight_decay)
        name = spec.lower()
        if name == "sgd":
            kwargs.setdefault("momentum", 0.9)
            return torch.optim.SGD(params, lr=self.lr, **kwargs)
        if name == "adam":
            return torch.optim.Adam(params, lr=self.lr, **kwargs)
        return torch.optim.AdamW(params, lr=self.lr, **kwargs)

    def _make_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int) -> Any:
        spec, kw = self.scheduler_spec, dict(self.scheduler_kwargs)
        if spec is None:
            return None
        if not isinstance(spec, str):
            return spec(optimizer, total_steps)
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
        return sched.OneCycleLR(optimizer, max_lr=kw.pop("max_lr", self.lr), total_steps=total_steps, **kw)

    def _resolve_loss(self, y: torch.Tensor | None) -> None:
        spec = self.loss_spec
        if callable(spec) and not isinstance(spec, str):
            self._loss_fn, self._classify, self._loss_name = spec, False, "custom"
            return
        if spec == "auto":
            spec = "cross_entropy" if (y is not None and not y.is_floating_point()) else "mse"
        self._loss_fn = _LOSS_FNS[spec]
        self._classify = spec in ("cross_entropy", "bce")
        self._loss_name = spec

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "bf16-mixed":
            return torch.autocast(self.accelerator.type, dtype=torch.bfloat16)
        if self.precision == "16-mixed":
            return torch.autocast(self.accelerator.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def _batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(batch, torch.Tensor):
            x, y = batch, None
        elif isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 2:
            x, y = batch[0], (batch[1] if len(batch) == 2 else None)
        else:
            raise TypeError(f"a batch must be a tensor or an (x, y) pair, got {type(batch).__name__}")
        dev = self._device
        if x.device != dev:
            x = x.to(dev, non_blocking=True)
        if self.precision == "64" and x.is_floating_point() and x.dtype != torch.float64:
            x = x.double()
        if y is not None and y.device != dev:
            y = y.to(dev, non_blocking=True)
        return x, y

    def _checked_forward(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The first batch: turn shape errors into a message about model and data."""
        try:
            with self._autocast():
                out = model(x)
        except (RuntimeError, ValueError) as err:
            raise ValueError(
                f"the model cannot take a batch of inputs of shape {tuple(x.shape)} (dtype {x.dtype}): {err}"
            ) from err
        if self._classify and self._loss_name == "cross_entropy":
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
            with self._autocast():
                loss = self._loss_fn(out, y)
        except (RuntimeError, ValueError) as err:
            raise ValueError(
                f"loss cannot compare model output of shape {tuple(out.shape)} with targets of shape "
                f"{tuple(y.shape)}: {err}"
            ) from err
        if loss.dim() != 0:
            raise ValueError(f"loss must be a scalar, got shape {tuple(loss.shape)}")
        return out, loss

    def _wrap(self, model: nn.Module, distributed: bool) -> nn.Module:
        if self.precision == "64":
            model = model.double()
        model = model.to(self._device)
        if distributed:
            if self.strategy == "fsdp":
                from qhybrid.classical.distributed import shard_model

                shard_model(model)
            else:
                from torch.nn.parallel import DistributedDataParallel as DDP

                ids = [self._device.index] if self._device.type == "cuda" else None
                model = DDP(model, device_ids=ids)
        if self.compile:
            opts = self.compile if isinstance(self.compile, dict) else {}
            model = torch.compile(model, **opts)
        return model

    def _hook(self, name: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(self, self.model, *args)

    def _all_reduce(self, values: list[float]) -> list[float]:
        if self.world_size == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self._device)
        dist.all_reduce(t)
        return t.tolist()

    # --------------------------------------------------------------------------------- checkpoints

    def _raw_state(self) -> dict[str, torch.Tensor]:
        if self._sharded():
            from qhybrid.classical.distributed import full_state_dict

            return full_state_dict(self.model)
        return self.model.state_dict()

    def _sharded(self) -> bool:
        return self.strategy == "fsdp" and self.world_size > 1

    def _optimizer_state(self) -> dict[str, Any] | None:
        if self.optimizer is None:
            return None
        if self._sharded():  # gather the sharded state into one full dict (collective; rank 0 gets it)
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            return get_optimizer_state_dict(
                self.model, self.optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
            )
        return self.optimizer.state_dict()

    def _checkpoint(self) -> dict[str, Any]:
        return {
            "version": _CHECKPOINT_VERSION,
            "model": self._raw_state(),
            "optimizer": self._optimizer_state(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "rng": _rng_state(),
            "epoch": self.current_epoch + 1,
            "global_step": self.global_step,
            "history": list(self.history),
            "callbacks": {cb.state_key: cb.state_dict() for cb in self.callbacks},
            "hparams": self.hparams(),
            "torch": str(torch.__version__),
        }

    def save_checkpoint(self, path: str | Path) -> None:
        """Write a checkpoint of the running fit (rank 0 only; written to a temp file, then renamed)."""
        if self.model is None:
            raise ValueError("save_checkpoint needs a model: call it during or after fit()")
        state = self._checkpoint()  # every rank takes part in gathering sharded state
        if not self.is_global_zero:
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        tmp.replace(path)

    @staticmethod
    def load_checkpoint(path: str | Path) -> dict[str, Any]:
        """Read a checkpoint written by :meth:`save_checkpoint` (tensors on CPU)."""
        return read_checkpoint(path, _CHECKPOINT_VERSION)

    # --------------------------------------------------------------------------------- fit

    def fit(
        self, model: nn.Module, train_data: Any, val_data: Any = None, resume_from: str | Path | None = None
    ) -> Trainer:
        """Train ``model`` on ``train_data`` for ``max_epochs`` (or ``max_steps``), validating each epoch.

        Returns the trainer; ``trainer.history`` holds one dict of metrics per epoch and
        ``trainer.model`` the trained model (unwrapped from DDP / compile).
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        ckpt = None if resume_from is None else self.load_checkpoint(resume_from)
        # Folders are checked before any work: an unwritable one would otherwise fail after an epoch.
        if self.log_dir is not None:
            check_writable_dir(self.log_dir, "log_dir")
        for cb in self.callbacks:
            if isinstance(cb, ModelCheckpoint):
                check_writable_dir(cb.dirpath, "ModelCheckpoint dirpath")
        distributed = self._setup_distributed()
        if self.seed is not None:
            seed_everything(self.seed)
        train_loader = self._loader(train_data, train=True, what="train_data")
        val_loader = None if val_data is None else self._loader(val_data, train=False, what="val_data")
        if isinstance(train_loader, _TensorLoader):
            self._resolve_loss(train_loader.y)
        else:
            self._loss_fn = None  # resolved on the first batch, from its targets

        self.num_training_batches = len(train_loader)
        steps_per_epoch = math.ceil(self.num_training_batches / self.accumulate_grad_batches)
        total_steps = steps_per_epoch * self.max_epochs
        if self.max_steps is not None:
            total_steps = min(total_steps, self.max_steps)

        if ckpt is not None:
            try:
                model.load_state_dict(ckpt["model"])
            except RuntimeError as err:
                raise ValueError(f"checkpoint {str(resume_from)!r} does not fit this model: {err}") from err
        self._raw_model = model
        self.model = model
        wrapped = self._wrap(model, distributed)
        # Evaluation bypasses the DDP wrapper: ranks may hold unequal validation shards, and DDP's
        # per-forward buffer broadcast would wait for a rank that has already finished.
        eval_model = wrapped
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            eval_model = wrapped.module
        if self.strategy == "fsdp" and distributed:
            self.model = wrapped
        self.optimizer = self._make_optimizer(wrapped)
        self.scheduler = self._make_scheduler(self.optimizer, max(1, total_steps))
        self.scaler = torch.amp.GradScaler(self._device.type) if self.precision == "16-mixed" else None
        self.history, self.global_step, start_epoch = [], 0, 0
        self.should_stop, self.stop_reason = False, None
        if ckpt is not None:
            if ckpt["optimizer"] is not None and self._sharded():
                from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

                set_optimizer_state_dict(
                    wrapped,
                    self.optimizer,
                    optim_state_dict=ckpt["optimizer"],
                    options=StateDictOptions(full_state_dict=True),
                )
            elif ckpt["optimizer"] is not None:
                self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt["scheduler"] is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            if self.scaler is not None and ckpt["scaler"] is not None:
                self.scaler.load_state_dict(ckpt["scaler"])
            for cb in self.callbacks:
                if cb.state_key in ckpt["callbacks"]:
                    cb.load_state_dict(ckpt["callbacks"][cb.state_key])
            self.history = list(ckpt["history"])
            self.global_step, start_epoch = ckpt["global_step"], ckpt["epoch"]
            _set_rng_state(ckpt["rng"])

        loggers = None
        if self.log_dir is not None and self.is_global_zero:
            loggers = _Loggers(self.log_dir, self.hparams())
        self.current_epoch = start_epoch
        t_fit = time.perf_counter()
        try:
            self._hook("on_fit_start")
            for epoch in range(start_epoch, self.max_epochs):
                if self.should_stop or (self.max_steps is not None and self.global_step >= self.max_steps):
                    break
                self.current_epoch = epoch
                metrics = self._train_epoch(wrapped, train_loader, epoch)
                if val_loader is not None:
                    val = self._eval_loop(eval_model, val_loader)
                    metrics.update({f"val_{k}": v for k, v in val.items()})
                    self._hook("on_validation_end", metrics)
                self.history.append(metrics)
                self._hook("on_train_epoch_end", metrics)
                if loggers is not None:
                    loggers.log_epoch(self.history)
            self._hook("on_fit_end")
        except BaseException as err:
            for cb in self.callbacks:
                cb.on_exception(self, self.model, err)
            raise
        finally:
            self.fit_time_s += time.perf_counter() - t_fit
            if loggers is not None:
                loggers.close()
        return self

    def _train_epoch(self, model: nn.Module, loader: Any, epoch: int) -> dict[str, float]:
        self._hook("on_train_epoch_start")
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        elif isinstance(getattr(loader, "sampler", None), torch.utils.data.DistributedSampler):
            loader.sampler.set_epoch(epoch)
        model.train()
        opt, sched, scaler, accel = self.optimizer, self.scheduler, self.scaler, self.accelerator
        accum, clip = self.accumulate_grad_batches, self.gradient_clip_val
        batch_cbs = [
            cb for cb in self.callbacks if type(cb).on_train_batch_end is not Callback.on_train_batch_end
        ]
        n_batches = self.num_training_batches
        ddp_no_sync = getattr(model, "no_sync", None)
        no_ctx = contextlib.nullcontext()
        # In-memory batches are already on the device in the right dtype: skip the per-batch checks.
        ready = isinstance(loader, _TensorLoader)
        plain = self.precision in ("32", "64")
        loss_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        correct = torch.zeros((), dtype=torch.long, device=self._device)
        n_seen = n_items = 0
        # In-memory classification keeps each batch's predicted classes and scores them once per epoch:
        # one kernel per step instead of four (compare, sum, accumulate), ~4 % of a small MLP's step.
        deferred = ready and self._classify and self._loss_name == "cross_entropy"
        predictions: list[torch.Tensor] = []
        targets: list[torch.Tensor] = []
        # Losses wait in a list and are folded into loss_sum at each finiteness check: appending a detached
        # tensor launches no kernel, an in-place add per step did.
        pending: list[torch.Tensor] = []
        pending_n: list[int] = []

        def fold() -> None:
            if pending:
                sizes = torch.tensor(pending_n, dtype=torch.float64, device=loss_sum.device)
                loss_sum.add_((torch.stack(pending).double() * sizes).sum())
                pending.clear()
                pending_n.clear()

        check_every = self.log_every_n_steps
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        for batch_idx, batch in enumerate(loader):
            x, y = batch if ready else self._batch(batch)
            if y is None:
                raise ValueError("training batches need targets: pass (X, y) or a loader yielding (x, y)")
            step_now = (batch_idx + 1) % accum == 0 or batch_idx + 1 == n_batches
            # Under DDP, skip the gradient all-reduce on accumulation-only micro-batches.
            sync_ctx = ddp_no_sync() if (ddp_no_sync is not None and not step_now) else no_ctx
            with sync_ctx:
                if self._loss_fn is None or (
                    batch_idx == 0 and epoch == self.current_epoch and n_seen == 0 and self.global_step == 0
                ):
                    if self._loss_fn is None:
                        self._resolve_loss(y)
                    out, loss = self._checked_forward(model, x, y)
                elif plain:
                    out = model(x)
                    loss = self._loss_fn(out, y)
                else:
                    with self._autocast():
                        out = model(x)
                        loss = self._loss_fn(out, y)
                scaled = loss / accum if accum > 1 else loss
                if scaler is not None:
                    scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            n = x.shape[0]
            pending.append(loss.detach())
            pending_n.append(n)
            if self._classify:
                if deferred and out.dim() == 2:
                    predictions.append(out.argmax(-1))
                    targets.append(y)
                elif self._loss_name == "cross_entropy":
                    correct.add_((out.argmax(-1) == y).sum())  # integer result: no graph is recorded
                else:
                    correct.add_(((out.detach().reshape(y.shape) > 0) == (y > 0.5)).sum())
            n_seen += n
            seq = out.dim() == 3
            n_items += y.numel() if seq else n
            del out  # let the next forward reuse this batch's output memory
            if step_now:
                if scaler is not None:
                    if clip is not None:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                    scaler.step(opt)
                    scaler.update()
                else:
                    if clip is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                    opt.step()
                opt.zero_grad(set_to_none=True)
                if sched is not None:
                    sched.step()
                if accel.is_xla:
                    accel.sync()
                self.global_step += 1
                if self.global_step % check_every == 0:
                    fold()
                    self._check_finite(loss_sum, epoch, batch_idx)
            for cb in batch_cbs:
                cb.on_train_batch_end(self, self.model, loss, batch_idx)
            if step_now and self.max_steps is not None and self.global_step >= self.max_steps:
                break
        if n_seen == 0:
            raise ValueError("train_data yielded no batches")
        if predictions:
            correct.add_((torch.cat(predictions) == torch.cat(targets)).sum())
        fold()
        self._check_finite(loss_sum, epoch, None)
        if accel.kind != "cpu":
            accel.synchronize()
        elapsed = time.perf_counter() - t0
        total_loss, total_correct, total_seen, total_items = self._all_reduce(
            [float(loss_sum), float(correct), float(n_seen), float(n_items)]
        )
        metrics: dict[str, float] = {"epoch": epoch + 1, "step": self.global_step}
        metrics["train_loss"] = total_loss / total_seen
        if self._classify:
            metrics["train_acc"] = total_correct / total_items
        if seq and self._loss_name == "cross_entropy":
            metrics["train_ppl"] = math.exp(min(metrics["train_loss"], 50.0))
            metrics["tokens_per_s"] = total_items / elapsed
        metrics["samples_per_s"] = total_seen / elapsed
        metrics["epoch_time_s"] = elapsed
        metrics["lr"] = float(opt.param_groups[0]["lr"])
        return metrics

    def _check_finite(self, loss_sum: torch.Tensor, epoch: int, batch_idx: int | None) -> None:
        if bool(torch.isfinite(loss_sum)):
            return
        where = f"epoch {epoch + 1}" + ("" if batch_idx is None else f", batch {batch_idx + 1}")
        kept = [
            cb.last_model_path
            for cb in self.callbacks
            if isinstance(cb, ModelCheckpoint) and cb.last_model_path
        ]
        self.should_stop = True
        self.stop_reason = f"non-finite training loss in {where} (step {self.global_step})"
        raise NonFiniteLossError(
            f"{self.stop_reason}; stopped. "
            + (f"Last good checkpoint kept: {kept[0]}" if kept else "No checkpoint was written before it.")
            + " Lower the learning rate, clip gradients (gradient_clip_val) or check the data for NaN/inf."
        )

    # --------------------------------------------------------------------------------- evaluate / predict

    @torch.no_grad()
    def _eval_loop(self, model: nn.Module, loader: Any) -> dict[str, float]:
        was_training = model.training
        model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        correct = torch.zeros((), dtype=torch.long, device=self._device)
        n_seen = n_items = 0
        seq = False
        for batch in loader:
            x, y = self._batch(batch)
            if y is None:
                raise ValueError("evaluation batches need targets: pass (X, y) or a loader yielding (x, y)")
            if self._loss_fn is None:
                self._resolve_loss(y)
            with self._autocast():
                out = model(x)
                loss = self._loss_fn(out, y)
            n = x.shape[0]
            loss_sum += loss.detach().double() * n
            if self._classify:
                if self._loss_name == "cross_entropy":
                    correct += (out.argmax(-1) == y).sum()
                else:
                    correct += ((out.reshape(y.shape) > 0) == (y > 0.5)).sum()
            seq = out.dim() == 3
            n_seen += n
            n_items += y.numel() if seq else n
            if self.accelerator.is_xla:
                self.accelerator.sync()
        model.train(was_training)
        total_loss, total_correct, total_seen, total_items = self._all_reduce(
            [float(loss_sum), float(correct), float(n_seen), float(n_items)]
        )
        if total_seen == 0:
            raise ValueError("evaluation data yielded no batches")
        out_metrics = {"loss": total_loss / total_seen}
        if self._classify:
            out_metrics["acc"] = total_correct / total_items
        if seq and self._loss_name == "cross_entropy":
            out_metrics["ppl"] = math.exp(min(out_metrics["loss"], 50.0))
        return out_metrics

    def _prepare_eval_model(self, model: nn.Module) -> nn.Module:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if self.precision == "64":
            model = model.double()
        return model.to(self._device)

    def evaluate(self, model: nn.Module, data: Any) -> dict[str, float]:
        """Loss (and ``acc`` for classification, ``ppl`` for language models) of ``model`` on ``data``."""
        model = self._prepare_eval_model(model)
        loader = self._loader(data, train=False, what="data")
        if isinstance(loader, _TensorLoader):
            self._resolve_loss(loader.y)
        return self._eval_loop(model, loader)

    @torch.no_grad()
    def predict(self, model: nn.Module, data: Any) -> torch.Tensor:
        """Model outputs for every sample of ``data`` (``X``, ``(X, y)``, Dataset or DataLoader), on CPU.

        Runs in this process only (no sharding), in evaluation mode.
        """
        model = self._prepare_eval_model(model)
        # A tuple of two is an (X, y) pair; a list is always rows of X.
        if isinstance(data, (np.ndarray, torch.Tensor, list)) or (isinstance(data, tuple) and len(data) != 2):
            X = _to_tensor(data, "data", self.precision == "64")
            if len(X) == 0:
                raise ValueError("data is empty (0 samples)")
            if self.precision == "64" and X.is_floating_point():
                X = X.double()
            loader: Any = _TensorLoader(X.to(self._device), None, self.batch_size, shuffle=False, seed=0)
        else:
            world = self.world_size
            self.world_size = 1
            try:
                loader = self._loader(data, train=False, what="data")
            finally:
                self.world_size = world
        was_training = model.training
        model.eval()
        outs = []
        for batch in loader:
            x, _ = self._batch(batch)
            with self._autocast():
                out = model(x)
            if self.accelerator.is_xla:
                self.accelerator.sync()
            outs.append(
                out.float().cpu()
                if out.is_floating_point() and self.precision.endswith("mixed")
                else out.cpu()
            )
        model.train(was_training)
        return torch.cat(outs)
