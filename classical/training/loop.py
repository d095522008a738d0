"""The training and evaluation loops of :class:`~.trainer.Trainer`, which only order the work: the
precision does the backward pass and the step, the strategy syncs and reduces, the accumulator keeps
the numbers, and callbacks add behaviour at their named hooks.

One training epoch, per batch::

    forward + loss  ->  on_before_backward  ->  backward  ->  on_after_backward
    every accumulate_grad_batches batches:
        (unscale)  ->  on_before_optimizer_step  ->  (clip)  ->  step  ->  schedule  ->  global_step += 1
        ->  on_after_optimizer_step  ->  zero_grad;  a finiteness check every log_every_n_steps steps
    on_train_batch_end;  end the epoch after this step if trainer.should_stop or max_steps is reached
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from qhybrid.classical.training.loaders import TensorLoader, set_epoch, split_batch
from qhybrid.classical.training.losses import checked_forward, resolve_loss
from qhybrid.classical.training.metrics import MetricAccumulator

if TYPE_CHECKING:
    from qhybrid.classical.training.trainer import Trainer

__all__ = ["NonFiniteLossError", "evaluation_loop", "train_epoch"]

_NO_CTX = contextlib.nullcontext()


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the run stopped and earlier checkpoints were kept."""


def train_epoch(trainer: Trainer, model: nn.Module, loader: Any, epoch: int) -> dict[str, float]:
    """One epoch of ``trainer.num_training_batches`` batches; returns the epoch's training metrics."""
    trainer._hook("on_train_epoch_start")
    set_epoch(loader, epoch)
    model.train()
    # In-memory batches are already on the device in the right dtype: no per-batch conversion.
    ready = isinstance(loader, TensorLoader)
    accum, n_batches = trainer.accumulate_grad_batches, trainer.num_training_batches
    no_sync = trainer.strategy.no_sync(model)
    metrics: MetricAccumulator | None = None
    t0 = time.perf_counter()
    trainer.optimizer.zero_grad(set_to_none=True)
    for batch_idx, batch in enumerate(itertools.islice(loader, n_batches)):
        x, y = batch if ready else split_batch(batch, trainer.device, trainer.precision_plugin)
        if y is None:
            raise ValueError("training batches need targets: pass (X, y) or a loader yielding (x, y)")
        step_now = (batch_idx + 1) % accum == 0 or batch_idx + 1 == n_batches
        # Under DDP, skip the gradient all-reduce on accumulation-only micro-batches.
        with no_sync() if (no_sync is not None and not step_now) else _NO_CTX:
            out, loss = _training_step(
                trainer, model, x, y, first=batch_idx == 0 and trainer.global_step == 0
            )
        if metrics is None:
            metrics = MetricAccumulator(trainer.device, trainer._loss, defer=ready)
        metrics.update(loss, out, y, x.shape[0])
        # Drop the batch's output before the next forward (metrics may hold a detached view until it folds).
        del out
        if step_now:
            _optimizer_step(trainer, model)
            if trainer.global_step % trainer.log_every_n_steps == 0:
                _check_finite(trainer, metrics.fold(), epoch, batch_idx)
        trainer._hook("on_train_batch_end", loss, batch_idx)
        if step_now and (trainer.should_stop or trainer._max_steps_reached()):
            break
    if metrics is None:
        raise ValueError("train_data yielded no batches")
    _check_finite(trainer, metrics.fold(), epoch, None)
    if trainer.accelerator.kind != "cpu":
        trainer.accelerator.synchronize()
    return _epoch_metrics(trainer, metrics, epoch, time.perf_counter() - t0)


def _training_step(
    trainer: Trainer, model: nn.Module, x: torch.Tensor, y: torch.Tensor, first: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward, loss and backward of one micro-batch; the run's first batch is checked for shapes."""
    precision = trainer.precision_plugin
    if first or trainer._loss is None:
        trainer._loss = trainer._loss or resolve_loss(trainer.loss_spec, y)
        out, loss = checked_forward(model, x, y, trainer._loss, precision)
    else:
        with precision.forward_context():
            out = model(x)
            loss = trainer._loss.fn(out, y)
    accum = trainer.accumulate_grad_batches
    scaled = loss / accum if accum > 1 else loss
    trainer._hook("on_before_backward", scaled)
    precision.backward(scaled)
    trainer._hook("on_after_backward")
    return out, loss


def _optimizer_step(trainer: Trainer, model: nn.Module) -> None:
    opt = trainer.optimizer
    trainer.precision_plugin.optimizer_step(
        opt, model, trainer.gradient_clip_val, lambda: trainer._hook("on_before_optimizer_step", opt)
    )
    if trainer.scheduler is not None:
        trainer.scheduler.step()
    trainer.global_step += 1
    trainer._hook("on_after_optimizer_step", opt)
    opt.zero_grad(set_to_none=True)
    if trainer.accelerator.is_xla:
        trainer.accelerator.sync()


def _epoch_metrics(
    trainer: Trainer, metrics: MetricAccumulator, epoch: int, elapsed: float
) -> dict[str, float]:
    out: dict[str, float] = {"epoch": epoch + 1, "step": trainer.global_step}
    totals = metrics.compute(trainer.strategy.all_reduce, "train_data")
    out.update({f"train_{k}": v for k, v in totals.items()})
    if metrics.seq and metrics.loss.name == "cross_entropy":
        out["tokens_per_s"] = metrics.total_items / elapsed
    out["samples_per_s"] = metrics.total_seen / elapsed
    out["epoch_time_s"] = elapsed
    out["lr"] = float(trainer.optimizer.param_groups[0]["lr"])
    return out


def _check_finite(trainer: Trainer, loss_sum: torch.Tensor, epoch: int, batch_idx: int | None) -> None:
    if bool(torch.isfinite(loss_sum)):
        return
    where = f"epoch {epoch + 1}" + ("" if batch_idx is None else f", batch {batch_idx + 1}")
    kept = trainer.last_checkpoint_path
    trainer.should_stop = True
    trainer.stop_reason = f"non-finite training loss in {where} (step {trainer.global_step})"
    raise NonFiniteLossError(
        f"{trainer.stop_reason}; stopped. "
        + (f"Last good checkpoint kept: {kept}" if kept else "No checkpoint was written before it.")
        + " Lower the learning rate, clip gradients (gradient_clip_val) or check the data for NaN/inf."
    )


@torch.no_grad()
def evaluation_loop(
    trainer: Trainer, model: nn.Module, loader: Any, limit: int | None = None
) -> dict[str, float]:
    """Loss (and ``acc``, ``ppl``) of ``model`` over ``loader`` (its first ``limit`` batches), averaged
    over all ranks."""
    was_training = model.training
    model.eval()
    precision, metrics = trainer.precision_plugin, None
    for batch in itertools.islice(loader, limit):
        x, y = split_batch(batch, trainer.device, precision)
        if y is None:
            raise ValueError("evaluation batches need targets: pass (X, y) or a loader yielding (x, y)")
        trainer._loss = trainer._loss or resolve_loss(trainer.loss_spec, y)
        with precision.forward_context():
            out = model(x)
            loss = trainer._loss.fn(out, y)
        if metrics is None:
            metrics = MetricAccumulator(trainer.device, trainer._loss, defer=isinstance(loader, TensorLoader))
        metrics.update(loss, out, y, x.shape[0])
        if trainer.accelerator.is_xla:
            trainer.accelerator.sync()
    model.train(was_training)
    if metrics is None:  # a rank without batches still joins the all-reduce
        metrics = MetricAccumulator(trainer.device, trainer._loss or resolve_loss(trainer.loss_spec, None))
    return metrics.compute(trainer.strategy.all_reduce, "evaluation data")
