"""User data to batches: ``(X, y)`` pairs through a fast in-memory loader, a ``Dataset`` or a
``DataLoader`` through torch's, sharded by rank when distributed; and one batch to ``(x, y)`` on the
device in the run's precision."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from qhybrid.classical.training.precision import Precision
from qhybrid.classical.validation import check_finite_array

__all__ = ["TensorLoader", "data_len", "make_loader", "set_epoch", "split_batch", "to_tensor"]


class TensorLoader:
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


def to_tensor(a: Any, what: str) -> torch.Tensor:
    """``a`` as a tensor, small integer types widened to int64 and bools to float (float dtypes are the
    precision's business: :meth:`Precision.convert_input`)."""
    if isinstance(a, torch.Tensor):
        t = a
    else:
        try:
            t = torch.as_tensor(np.asarray(a))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what} must be an array or tensor, got {type(a).__name__}: {err}") from None
    if t.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
        t = t.long()
    elif t.dtype == torch.bool:
        t = t.float()
    return t


def data_len(data: Any) -> int | None:
    """Number of samples of a Dataset or DataLoader; None for iterable data sets, which have no length."""
    try:
        return len(data.dataset) if isinstance(data, DataLoader) else len(data)
    except TypeError:
        return None


def make_loader(
    data: Any,
    *,
    train: bool,
    what: str,
    batch_size: int,
    seed: int,
    precision: Precision,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
    num_workers: int = 0,
) -> TensorLoader | DataLoader:
    """Turn user data into something iterable over batches, sharded over ``world`` ranks."""
    if data is None:
        raise ValueError(f"{what} is None; pass a DataLoader, a Dataset or an (X, y) pair")
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = pair_tensors(data, what, precision)
        return TensorLoader(
            X.to(device),
            y.to(device),
            batch_size,
            shuffle=train,
            seed=seed,
            rank=rank,
            world=world,
            pad=train,
        )
    if data_len(data) == 0:
        raise ValueError(f"{what} is empty (0 samples)")
    if isinstance(data, DataLoader):
        if world == 1 or isinstance(data.sampler, DistributedSampler):
            return data
        sampler = DistributedSampler(
            data.dataset,
            num_replicas=world,
            rank=rank,
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
    if isinstance(data, Dataset):
        if world > 1:
            sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=train, seed=seed)
            return DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=num_workers)
        g = torch.Generator().manual_seed(seed)
        return DataLoader(data, batch_size=batch_size, shuffle=train, generator=g, num_workers=num_workers)
    raise TypeError(f"{what} must be a DataLoader, a Dataset or an (X, y) pair, got {type(data).__name__}")


def pair_tensors(data: Any, what: str, precision: Precision) -> tuple[torch.Tensor, torch.Tensor]:
    """An ``(X, y)`` pair as tensors, checked first: lengths, NaN/inf, no autograd graph."""
    # Converted before the NaN/inf check: a float64 value beyond float32's range is inf in training.
    X = precision.convert_input(to_tensor(data[0], f"{what} X"))
    y = precision.convert_input(to_tensor(data[1], f"{what} y"))
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
    return X, y


def set_epoch(loader: Any, epoch: int) -> None:
    """Tell the loader (or its ``DistributedSampler``) which epoch starts, so it reshuffles."""
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)
    elif isinstance(getattr(loader, "sampler", None), DistributedSampler):
        loader.sampler.set_epoch(epoch)


def split_batch(
    batch: Any, device: torch.device, precision: Precision
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A batch (a tensor, or an ``(x,)`` / ``(x, y)`` sequence) as ``(x, y)`` on ``device``, floats in
    the precision's input dtype."""
    if isinstance(batch, torch.Tensor):
        x, y = batch, None
    elif isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 2:
        x, y = batch[0], (batch[1] if len(batch) == 2 else None)
    else:
        raise TypeError(f"a batch must be a tensor or an (x, y) pair, got {type(batch).__name__}")
    if x.device != device:
        x = x.to(device, non_blocking=True)
    x = precision.convert_input(x)
    if y is not None:
        if y.device != device:
            y = y.to(device, non_blocking=True)
        y = precision.convert_input(y)
    return x, y
