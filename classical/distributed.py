"""Data and model parallelism through ``torch.distributed``: launching, FSDP2 sharding, pipelining.

* **Data parallel (DDP).** Launch N processes with ``torchrun --nproc-per-node N script.py`` (gloo on
  CPU, nccl on GPU) or, from Python, :func:`launch`. Inside, ``Trainer(strategy="auto")`` notices the
  process group, wraps the model in ``DistributedDataParallel``, shards the data by rank, averages
  metrics over ranks and logs / checkpoints on rank 0 only; a training script needs no change.
* **Sharded data parallel (FSDP2).** :func:`shard_model` applies ``torch.distributed.fsdp.fully_shard``
  to each block of a model and then to the model; ``Trainer(strategy="fsdp")`` does this for you.
* **Pipeline parallel.** :class:`Pipeline` puts one stage of a model on each rank and runs GPipe or
  1F1B micro-batch schedules from ``torch.distributed.pipelining``; :func:`split_sequential` cuts an
  ``nn.Sequential`` into stages of similar parameter counts.

Teardown matters: a gloo process that exits with live communicators aborted about one run in ten
("terminate called without an active exception"). :func:`launch` frees everything and calls
:func:`cleanup` in each worker; in your own scripts drop the model, optimiser and trainer, then call
:func:`cleanup`.

Example (two CPU processes; ``train`` must be importable, i.e. defined at module level)::

    from qhybrid.classical import MLP, Trainer
    from qhybrid.classical.distributed import launch

    def train(X, y):
        trainer = Trainer(max_epochs=5, batch_size=32, strategy="ddp").fit(MLP(64, 10), (X, y))
        return trainer.history[-1]

    results = launch(train, nprocs=2, args=(X, y))   # one result per rank
"""

from __future__ import annotations

import gc
import os
import pickle
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from qhybrid.classical.accelerators import set_threads
from qhybrid.classical.validation import check_int

__all__ = ["Pipeline", "cleanup", "free_port", "full_state_dict", "launch", "shard_model", "split_sequential"]

BACKENDS = ("gloo", "nccl")
SCHEDULES = ("gpipe", "1f1b")


def free_port() -> int:
    """A TCP port that is free on this machine right now (for ``MASTER_PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cleanup(*, barrier: bool = True) -> None:
    """Tear the process group down cleanly: collect garbage (DDP reducers, FSDP state), wait for every
    rank (unless ``barrier=False``, e.g. after a failure), then ``destroy_process_group()``. Safe to call
    when no group exists."""
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        try:
            if barrier:
                dist.barrier()
        finally:
            dist.destroy_process_group()


def _worker(
    rank: int,
    nprocs: int,
    backend: str,
    port: int,
    threads: int,
    fn: Callable[..., Any],
    args: tuple,
    queue: Any,
) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(nprocs),
            "LOCAL_WORLD_SIZE": str(nprocs),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    set_threads(threads)
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dist.init_process_group(backend, rank=rank, world_size=nprocs)
        # Plain pickle copies tensors into the message; the queue's own pickler would share them
        # through file descriptors that vanish when this process exits.
        result = pickle.dumps(fn(*args))
        cleanup()
        queue.put((rank, True, result))
    except BaseException:  # report any failure to the parent instead of dying silently
        queue.put((rank, False, traceback.format_exc()))
        cleanup(barrier=False)
        raise


def launch(
    fn: Callable[..., Any],
    nprocs: int = 2,
    *,
    args: tuple = (),
    backend: str | None = None,
    threads_per_process: int | None = None,
    timeout_s: float = 600.0,
) -> list[Any]:
    """Run ``fn(*args)`` in ``nprocs`` local processes joined in one process group; return each rank's
    result, in rank order.

    Each process gets the torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...), its share
    of the CPU cores as torch threads, and an initialised process group (gloo on CPU, nccl when every
    process can have its own GPU). Results are pickled back, so return CPU tensors or plain values.

    Raises:
        ValueError: bad ``nprocs`` / ``backend``; nccl with fewer GPUs than processes.
        RuntimeError: a worker failed (its traceback is in the message) or timed out.
    """
    check_int("nprocs", nprocs, 1)
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= nprocs else "gloo"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "nccl" and torch.cuda.device_count() < nprocs:
        raise ValueError(
            f"backend 'nccl' needs one GPU per process: {nprocs} processes, {torch.cuda.device_count()} GPUs"
        )
    if threads_per_process is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads_per_process = max(1, cores // nprocs)
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = free_port()
    procs = [
        ctx.Process(target=_worker, args=(r, nprocs, backend, port, threads_per_process, fn, args, queue))
        for r in range(nprocs)
    ]
    for p in procs:
        p.start()
    results: dict[int, Any] = {}
    errors: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(results) + len(errors) < nprocs:
        if not queue.empty():
            rank, ok, value = queue.get()
            if ok:
                results[rank] = pickle.loads(value)
            else:
                errors.append(f"rank {rank}:\n{value}")
            continue
        if errors and all(not p.is_alive() for p in procs):
            break
        if any(p.exitcode not in (None, 0) for p in procs) and queue.empty() and not errors:
            # A worker died without reporting (killed, or crashed in C++): give the others a moment.
            time.sleep(0.5)
            if queue.empty():
                codes = [p.exitcode for p in procs]
                for p in procs:
                    p.kill()
                raise RuntimeError(f"a worker process died without a result; exit codes {codes}")
        if time.monotonic() > deadline:
            for p in procs:
                p.kill()
            raise RuntimeError(f"distributed run did not finish within {timeout_s:.0f} s")
        time.sleep(0.01)
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    if errors:
        raise RuntimeError("distributed worker failed:\n" + "\n".join(errors))
    return [results[r] for r in range(nprocs)]


# ------------------------------------------------------------------------------------------- FSDP2


def _blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated layers worth sharding one by one: children of the first ModuleList/Sequential."""
    for module in model.modules():
        if module is not model and isinstance(module, (nn.ModuleList, nn.Sequential)):
            return [m for m in module if any(True for _ in m.parameters())]
    return []


def shard_model(model: nn.Module, *, mesh: Any = None, reshard_after_forward: bool = True) -> nn.Module:
    """Shard ``model``'s parameters over the process group with FSDP2 (``fully_shard``), in place.

    Each block (child of the model's first ``nn.ModuleList`` / ``nn.Sequential``) becomes its own unit,
    so only one block's full parameters exist at a time; the rest (embeddings, heads, tied weights)
    stay in the root unit. Needs an initialised process group.
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(
            "shard_model needs an initialised process group (torchrun or classical.distributed.launch)"
        )
    from torch.distributed.fsdp import fully_shard

    for block in _blocks(model):
        fully_shard(block, mesh=mesh, reshard_after_forward=reshard_after_forward)
    fully_shard(model, mesh=mesh, reshard_after_forward=reshard_after_forward)
    return model


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole (unsharded) state dict of a sharded or plain model, on CPU. Collective under FSDP:
    every rank must call it; rank 0 receives the full tensors."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    if not (dist.is_available() and dist.is_initialized()):
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


# ------------------------------------------------------------------------------------------- pipelining


def split_sequential(model: nn.Sequential, n_stages: int) -> list[nn.Sequential]:
    """Cut ``model`` into ``n_stages`` consecutive ``nn.Sequential`` parts with similar parameter counts
    (every part gets at least one layer). The parts share the original layers (no copies)."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"split_sequential takes an nn.Sequential, got {type(model).__name__}")
    layers = list(model)
    check_int("n_stages", n_stages, 1, len(layers))  # at most one stage per layer
    sizes = [sum(p.numel() for p in layer.parameters()) + 1 for layer in layers]
    total, parts, start, acc = sum(sizes), [], 0, 0
    for i, size in enumerate(sizes):
        acc += size
        remaining_layers = len(layers) - i - 1
        remaining_stages = n_stages - len(parts) - 1
        if remaining_stages == 0:
            break
        if acc >= total * (len(parts) + 1) / n_stages or remaining_layers == remaining_stages:
            parts.append(nn.Sequential(*layers[start : i + 1]))
            start = i + 1
    parts.append(nn.Sequential(*layers[start:]))
    return parts


class Pipeline:
    """One pipeline stage per rank, trained with a micro-batch schedule (GPipe or 1F1B).

    Rank r holds ``stages[r]`` (len(stages) must equal the world size). Every rank calls :meth:`step`
    with the same ``x`` and ``target`` (only the first rank's inputs and the last rank's targets are
    used); the batch is cut into ``n_microbatches``. Gradients land in ``module``'s parameters, scaled
    so that they equal the full-batch gradient of the mean loss; step your optimiser on ``module``.

    Args:
        stages: the model's consecutive parts, e.g. from :func:`split_sequential`.
        schedule: ``"gpipe"`` (all forwards, then all backwards) or ``"1f1b"`` (interleaved, less memory).
        n_microbatches: micro-batches per step (the batch size must divide evenly).
        loss_fn: ``(output, target) -> loss`` on the last stage (default cross-entropy).
        device: where the stage runs (default CPU, or this rank's GPU under nccl).
    """

    def __init__(
        self,
        stages: Sequence[nn.Module],
        *,
        schedule: str = "gpipe",
        n_microbatches: int = 4,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
        device: torch.device | str | None = None,
    ) -> None:
        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(
                "Pipeline needs an initialised process group (torchrun or classical.distributed.launch)"
            )
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")
        check_int("n_microbatches", n_microbatches, 1)
        from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if len(stages) != self.world_size:
            raise ValueError(f"got {len(stages)} stages for {self.world_size} ranks: need one stage per rank")
        if device is None:
            device = (
                torch.device("cuda", torch.cuda.current_device())
                if dist.get_backend() == "nccl"
                else torch.device("cpu")
            )
        self.device = torch.device(device)
        self.module = stages[self.rank].to(self.device)
        self.is_first, self.is_last = self.rank == 0, self.rank == self.world_size - 1
        stage = PipelineStage(self.module, self.rank, self.world_size, self.device)
        cls = ScheduleGPipe if schedule == "gpipe" else Schedule1F1B
        self.n_microbatches = n_microbatches
        self._schedule = cls(stage, n_microbatches=n_microbatches, loss_fn=loss_fn)

    def step(self, x: torch.Tensor, target: torch.Tensor) -> float | None:
        """Forward and backward one batch through all stages; the last rank returns the mean loss."""
        if x.shape[0] % self.n_microbatches:
            raise ValueError(
                f"batch size {x.shape[0]} is not divisible by n_microbatches={self.n_microbatches}"
            )
        losses: list[torch.Tensor] = []
        if self.is_first and self.is_last:
            self._schedule.step(x.to(self.device), target=target.to(self.device), losses=losses)
        elif self.is_first:
            self._schedule.step(x.to(self.device))
        elif self.is_last:
            self._schedule.step(target=target.to(self.device), losses=losses)
        else:
            self._schedule.step()
        return float(torch.stack(losses).mean()) if self.is_last else None
