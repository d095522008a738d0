"""Reproducibility: seeding, the random-number state a checkpoint carries (so a resumed run draws what
the uninterrupted one would have drawn), and deterministic algorithms."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["DETERMINISTIC", "deterministic_algorithms", "rng_state", "seed_everything", "set_rng_state"]

#: What ``Trainer(deterministic=...)`` accepts, as Lightning does.
DETERMINISTIC = (None, True, False, "warn")


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global generators' states (python, numpy, torch CPU, every CUDA device), as tensors and plain
    containers that ``torch.load(weights_only=True)`` reads back."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_deterministic(value: Any) -> bool | str | None:
    """``value`` if it is one of :data:`DETERMINISTIC`, else ``ValueError`` naming it."""
    if value is None or isinstance(value, bool) or value == "warn":
        return value
    raise ValueError(f"deterministic must be True, False, 'warn' or None, got {value!r}")


@contextlib.contextmanager
def deterministic_algorithms(mode: bool | str | None) -> Iterator[None]:
    """Run the block with ``torch.use_deterministic_algorithms`` set as ``mode`` says, then restore.

    ``True``: operations without a deterministic implementation raise; ``"warn"``: they warn and run;
    ``False``: torch's default (nondeterministic algorithms allowed); ``None``: leave everything as it
    is. ``True`` and ``"warn"`` also set cuDNN to deterministic kernels without autotuning
    (``benchmark=False``) and, if unset, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, which cuBLAS needs for
    reproducible matrix products on CUDA >= 10.2.
    """
    if mode is None:
        yield
        return
    cudnn = torch.backends.cudnn
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    on = mode is True or mode == "warn"
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        cudnn.deterministic, cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(on, warn_only=mode == "warn")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        cudnn.deterministic, cudnn.benchmark = before[2], before[3]
