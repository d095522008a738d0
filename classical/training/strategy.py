"""How a run is spread over processes: one process, DDP, or FSDP2 (``fully_shard``).

``Strategy(name, accelerator)`` is chosen by name at construction; :meth:`Strategy.setup` decides at
``fit`` what that means here and now (``"auto"`` becomes DDP when launched with several processes,
e.g. by ``torchrun``), joins or creates the process group and picks this rank's device. The rest is
what differs between the three: wrapping the model, skipping the gradient all-reduce on accumulation
micro-batches, averaging metrics over ranks, and full (gathered) state dicts of sharded models.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from qhybrid.classical.accelerators import Accelerator

__all__ = ["STRATEGIES", "Strategy"]

STRATEGIES = ("auto", "single", "ddp", "fsdp")


class Strategy:
    """The strategy ``name`` (``"auto"``, ``"single"``, ``"ddp"``, ``"fsdp"``) on ``accelerator``.

    Attributes:
        kind: what :meth:`setup` decided: ``"single"``, ``"ddp"`` or ``"fsdp"``.
        rank, world_size: this process's place in the group (0 and 1 outside one).
        device: the ``torch.device`` this rank trains on.
    """

    def __init__(self, name: str, accelerator: Accelerator) -> None:
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; allowed: {', '.join(STRATEGIES)}")
        self.name, self.accelerator = name, accelerator
        self.kind = "single"
        self.rank, self.world_size = 0, 1
        self.device = accelerator.device

    def __repr__(self) -> str:
        return f"Strategy({self.name!r}, kind={self.kind!r}, rank={self.rank}, world_size={self.world_size})"

    @property
    def is_global_zero(self) -> bool:
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        """Parameters and optimiser state are split over several ranks (FSDP with more than one)."""
        return self.kind == "fsdp" and self.world_size > 1

    # ----------------------------------------------------------------------------------- set-up

    def setup(self) -> None:
        """Decide the kind, join (or initialise from the torchrun environment) the process group."""
        import torch.distributed as dist

        env_world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        grouped = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if self.name == "single" or (self.name == "auto" and env_world <= 1 and not grouped):
            self.kind, self.rank, self.world_size = "single", 0, 1
            return
        if not dist.is_available():
            raise ValueError(f"strategy {self.name!r} needs torch.distributed, which this torch build lacks")
        if not dist.is_initialized():
            if "MASTER_ADDR" not in os.environ:
                raise ValueError(
                    f"strategy {self.name!r}: no process group and no torchrun environment; launch with "
                    "`torchrun --nproc-per-node N script.py` or classical.distributed.launch(...)"
                )
            dist.init_process_group("nccl" if self.accelerator.kind == "cuda" else "gloo")
            # Freeing the group at exit avoids gloo's "terminate called without an active exception".
            atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
        self.kind = "fsdp" if self.name == "fsdp" else "ddp"
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if self.accelerator.kind == "cuda":
            local = int(os.environ.get("LOCAL_RANK", self.rank % max(1, torch.cuda.device_count())))
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)

    def wrap(
        self, model: nn.Module, compile: bool | dict[str, Any]
    ) -> tuple[nn.Module, nn.Module, nn.Module]:
        """Move ``model`` to the device, wrap or shard it, compile it if asked.

        Returns ``(train_model, eval_model, owner)``: what the training loop calls, what evaluation calls
        (the DDP wrapper is bypassed there: ranks may hold unequal validation shards, and DDP's
        per-forward buffer broadcast would wait for a rank that has already finished), and what
        ``trainer.model`` holds (the sharded module under FSDP, else the user's module).
        """
        model = model.to(self.device)
        wrapped = model
        if self.kind == "fsdp":
            from qhybrid.classical.distributed import shard_model

            shard_model(model)
        elif self.kind == "ddp":
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = DDP(model, device_ids=ids)
        if compile:
            wrapped = torch.compile(wrapped, **(compile if isinstance(compile, dict) else {}))
        eval_model = wrapped
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            eval_model = wrapped.module
        return wrapped, eval_model, wrapped if self.kind == "fsdp" else model

    # ----------------------------------------------------------------------------------- in the loop

    @staticmethod
    def no_sync(model: nn.Module) -> Callable[[], contextlib.AbstractContextManager] | None:
        """The context that skips DDP's gradient all-reduce (for accumulation-only micro-batches), or None."""
        return getattr(model, "no_sync", None)

    def all_reduce(self, values: list[float]) -> list[float]:
        """``values`` summed over all ranks (returned as given on one process)."""
        if self.world_size == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    # ----------------------------------------------------------------------------------- state dicts

    def model_state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The whole model state (gathered to rank 0 when sharded: every rank must call it)."""
        if self.sharded:
            from qhybrid.classical.distributed import full_state_dict

            return full_state_dict(model)
        return model.state_dict()

    def optimizer_state_dict(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The whole optimiser state (sharded state gathered into one full dict: collective)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            return get_optimizer_state_dict(
                model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
            )
        return optimizer.state_dict()

    def load_optimizer_state_dict(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
    ) -> None:
        """Load a full optimiser state (re-sharded over the ranks when sharded)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(
                model, optimizer, optim_state_dict=state, options=StateDictOptions(full_state_dict=True)
            )
        else:
            optimizer.load_state_dict(state)
