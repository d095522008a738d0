"""The ``devices`` option, in Lightning's meaning, for a trainer that drives one device per process.

Lightning reads ``devices`` as a number of devices (``2``, ``"2"``), a list of device indices
(``[0]``, ``"0,"``, ``"0,1"``), ``-1`` for every device of the accelerator, or ``"auto"``. Here one
process drives one device, and several processes are started by ``torchrun`` (or
:func:`classical.distributed.launch`), never by the Trainer itself. So:

* outside a launch, ``devices`` must come to one device: ``"auto"``, ``1``, ``"1"``, ``[i]`` / ``"i,"``
  (CUDA device ``i``; index 0 on CPU, MPS and TPU), or ``-1`` on a machine with one GPU. Asking for
  more says how to launch;
* under ``torchrun`` (``WORLD_SIZE`` > 1), ``devices`` is ``"auto"``, ``-1`` or the number of processes
  per node (``LOCAL_WORLD_SIZE``); each process takes the GPU of its ``LOCAL_RANK``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from qhybrid.classical import accelerators as _acc
from qhybrid.classical.accelerators import Accelerator, resolve_accelerator
from qhybrid.classical.validation import ArgumentTypeError, describe

__all__ = ["parse_devices", "select_accelerator"]

_ALLOWED = "a number of devices >= 1, a list of device indices, -1 (every device) or 'auto'"


def parse_devices(devices: Any) -> int | list[int] | str:
    """``devices`` as ``"auto"``, a count (``-1`` for every device) or a list of indices."""
    if isinstance(devices, str):
        text = devices.strip().lower()
        if text == "auto":
            return "auto"
        if "," in text:
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if parts and all(p.isdigit() for p in parts):
                return _check_indices(devices, [int(p) for p in parts])
        elif text.lstrip("-").isdigit():
            return _check_count(devices, int(text))
        raise ValueError(f"devices must be {_ALLOWED}, got {devices!r}")
    if isinstance(devices, (list, tuple)):
        for d in devices:
            if isinstance(d, bool) or not isinstance(d, int):
                raise ArgumentTypeError(f"devices: device indices must be integers, got {describe(d)}")
        return _check_indices(devices, list(devices))
    if isinstance(devices, bool) or not isinstance(devices, int):
        raise ArgumentTypeError(f"devices must be {_ALLOWED}, got {describe(devices)}")
    return _check_count(devices, devices)


def _check_count(given: Any, n: int) -> int:
    if n == -1 or n >= 1:
        return n
    raise ValueError(f"devices must be {_ALLOWED}, got {given!r}")


def _check_indices(given: Any, indices: list[int]) -> list[int]:
    if not indices:
        raise ValueError(f"devices: the list of device indices is empty; {_ALLOWED}")
    if any(i < 0 for i in indices) or len(set(indices)) != len(indices):
        raise ValueError(f"devices: device indices must be distinct integers >= 0, got {given!r}")
    return indices


def select_accelerator(accelerator: Any, devices: Any) -> Accelerator:
    """The accelerator this process trains on, given ``accelerator`` and the (parsed) ``devices``.

    Raises:
        ValueError: more devices than this machine has, a device index it lacks, a GPU named by both
            arguments differently, several devices without a launcher, or a count that does not match
            the launch.
    """
    acc = resolve_accelerator(accelerator)
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world) or world)
        if devices in ("auto", -1, local):
            return acc
        raise ValueError(
            f"devices={devices!r} does not match this launch: it started {local} process(es) per node, "
            f"one device each; pass devices='auto' or {local}"
        )
    if devices == "auto":
        return acc
    on_gpu = acc.kind == "cuda"
    available = _acc._cuda_count() if on_gpu else 1
    if devices == -1 and not on_gpu:
        raise ValueError(f"devices=-1 (every device) is for GPUs; on {acc.kind} pass 1 or 'auto'")
    n = available if devices == -1 else (len(devices) if isinstance(devices, list) else devices)
    if on_gpu and n > available:
        raise ValueError(f"devices={devices!r} asks for {n} CUDA devices; this machine has {available}")
    if n > 1:
        raise ValueError(
            f"devices={devices!r} needs {n} processes, one per device, and the Trainer runs in one: launch "
            f"`torchrun --nproc-per-node {n} script.py` (or classical.distributed.launch(fn, nprocs={n})) "
            f"and pass devices='auto' or {n}"
        )
    if not isinstance(devices, list):
        return acc
    index = devices[0]
    if not on_gpu:
        if index != 0:
            raise ValueError(f"devices={devices!r}: {acc.kind} has one device, index 0")
        return acc
    if index >= available:
        raise ValueError(f"devices={devices!r}: no CUDA device {index}; this machine has {available}")
    named = _named_index(accelerator)
    if named is not None and named != index:
        raise ValueError(f"accelerator {str(accelerator)!r} and devices={devices!r} name different GPUs")
    return resolve_accelerator(f"cuda:{index}")


def _named_index(accelerator: Any) -> int | None:
    """The GPU index the ``accelerator`` argument spells out (``"cuda:1"``, a device, an Accelerator)."""
    if isinstance(accelerator, Accelerator):
        return accelerator.index
    if isinstance(accelerator, torch.device):
        return accelerator.index
    _, _, index = str(accelerator).partition(":")
    return int(index) if index.isdigit() else None
