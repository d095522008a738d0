"""Checkpoints of a running fit: what they hold, writing them atomically, reading them back safely,
and restoring a trainer from one so the resumed run continues exactly (RNG states included).

A checkpoint is a dict of tensors and plain containers (``torch.load(weights_only=True)`` reads it)::

    version, model, optimizer, optimizer_class, scheduler, scaler, rng, epoch, global_step, history, callbacks,
    hparams, torch

plus whatever callbacks add in ``on_save_checkpoint``. Under FSDP the model and optimiser entries hold
the full (gathered) state, so a checkpoint loads anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from qhybrid.classical.training.rng import rng_state, set_rng_state
from qhybrid.classical.validation import read_checkpoint

if TYPE_CHECKING:
    from qhybrid.classical.training.trainer import Trainer

__all__ = ["CHECKPOINT_VERSION", "checkpoint_state", "load_checkpoint", "restore", "write_checkpoint"]

CHECKPOINT_VERSION = 1


def checkpoint_state(trainer: Trainer) -> dict[str, Any]:
    """The checkpoint dict of ``trainer``'s fit as it stands (collective under FSDP: every rank calls it)."""
    strategy = trainer.strategy
    optimizer = trainer.optimizer
    state = {
        "version": CHECKPOINT_VERSION,
        "model": strategy.model_state_dict(trainer.model),
        "optimizer": None if optimizer is None else strategy.optimizer_state_dict(trainer.model, optimizer),
        "optimizer_class": None if optimizer is None else type(optimizer).__name__,
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "scaler": trainer.precision_plugin.state_dict(),
        "rng": rng_state(),
        "epoch": trainer.current_epoch + 1,
        "global_step": trainer.global_step,
        "history": list(trainer.history),
        "callbacks": {cb.state_key: cb.state_dict() for cb in trainer.callbacks},
        "hparams": trainer.hparams(),
        "torch": str(torch.__version__),
    }
    for cb in trainer.callbacks:
        cb.on_save_checkpoint(trainer, trainer.model, state)
    return state


def write_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to a temporary file, then rename it over ``path``: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by ``Trainer.save_checkpoint`` (tensors on CPU, nothing but tensors and
    plain containers unpickled)."""
    return read_checkpoint(path, CHECKPOINT_VERSION)


def load_model_state(model: nn.Module, ckpt: dict[str, Any], path: str | Path) -> None:
    """The checkpoint's weights into ``model`` (before it is wrapped or sharded)."""
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {str(path)!r} does not fit this model: {err}") from err


def restore(trainer: Trainer, ckpt: dict[str, Any], train_model: nn.Module) -> int:
    """Optimiser, schedule, scaler, callbacks, history, step and RNG states from ``ckpt`` into
    ``trainer``; returns the epoch to continue from."""
    saved = ckpt.get("optimizer_class")  # absent in checkpoints written before it was kept
    if saved is not None and trainer.optimizer is not None and saved != type(trainer.optimizer).__name__:
        raise ValueError(
            f"the checkpoint's optimiser state is {saved}'s, but this Trainer trains with "
            f"{type(trainer.optimizer).__name__}: resume with the same optimiser, or start a new fit"
        )
    if ckpt["optimizer"] is not None:
        try:
            trainer.strategy.load_optimizer_state_dict(train_model, trainer.optimizer, ckpt["optimizer"])
        except ValueError as err:  # e.g. other parameter groups (weight decay on matrices only)
            raise ValueError(
                f"the checkpoint's optimiser state does not fit this Trainer's optimiser ({err}); resume with "
                "the options it was written with, or start a new fit"
            ) from err
    if trainer.scheduler is not None and ckpt["scheduler"] is not None:
        trainer.scheduler.load_state_dict(ckpt["scheduler"])
    if trainer.precision_plugin.scaler is not None:
        trainer.precision_plugin.load_state_dict(ckpt["scaler"])
    for cb in trainer.callbacks:
        if cb.state_key in ckpt["callbacks"]:
            cb.load_state_dict(ckpt["callbacks"][cb.state_key])
        cb.on_load_checkpoint(trainer, trainer.model, ckpt)
    trainer.history = list(ckpt["history"])
    trainer.global_step = ckpt["global_step"]
    set_rng_state(ckpt["rng"])
    return ckpt["epoch"]
