"""Pick the hardware a model runs on: CUDA GPU, TPU (through XLA), Apple MPS or CPU.

``resolve_accelerator("auto")`` picks CUDA, then TPU, then MPS, then CPU. Any of them can be asked for by
name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"gpu"``, ``"tpu"``, ``"mps"``); asking for one that is absent
raises ``ValueError`` naming what this machine has.

TPU detection imports nothing at ``import classical``. It happens on first use, in two ways:

* ``torch.accelerator`` when a TPU runtime (TorchTPU) registered itself there as the current accelerator;
* ``torch_xla`` when it is installed *and* its runtime reports a TPU (importing torch_xla alone proves
  nothing: it installs and imports on machines with no TPU, and then falls back to CPU).

Example::

    >>> from qhybrid.classical import resolve_accelerator
    >>> acc = resolve_accelerator("cpu")
    >>> acc.kind, str(acc.device)
    ('cpu', 'cpu')
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import platform
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from qhybrid.classical.validation import check_int

__all__ = [
    "Accelerator",
    "available_accelerators",
    "describe",
    "resolve_accelerator",
    "set_threads",
]

_KINDS = ("auto", "cpu", "cuda", "gpu", "tpu", "mps")


@dataclass(frozen=True)
class Accelerator:
    """A resolved accelerator: what kind it is, the ``torch.device`` to move tensors to, and its runtime.

    Attributes:
        kind: ``"cpu"``, ``"cuda"``, ``"tpu"`` or ``"mps"``.
        device: the ``torch.device`` that tensors and modules are moved to.
        runtime: ``"torch_xla"`` or ``"torch.accelerator"`` for a TPU, else ``None``.
    """

    kind: str
    device: torch.device
    runtime: str | None = None

    @property
    def type(self) -> str:
        """``device.type``, so an ``Accelerator`` can stand where a ``torch.device`` is read."""
        return self.device.type

    @property
    def index(self) -> int | None:
        return self.device.index

    @property
    def is_xla(self) -> bool:
        """True when steps must be cut into XLA graphs with ``torch_xla.sync()``."""
        return self.runtime == "torch_xla"

    def sync(self) -> None:
        """End the current lazy XLA graph and run it (no-op elsewhere)."""
        if self.is_xla:
            _xla_module().sync()

    def synchronize(self) -> None:
        """Wait for queued device work to finish (for honest timings)."""
        if self.kind == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.kind == "mps":
            torch.mps.synchronize()
        elif self.is_xla:
            _xla_module().sync()
        elif self.runtime == "torch.accelerator":
            torch.accelerator.synchronize()

    def __str__(self) -> str:
        return str(self.device)


# ---------------------------------------------------------------------------------------------- detection


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _xla_module() -> ModuleType:
    return importlib.import_module("torch_xla")


@functools.lru_cache(maxsize=1)
def _tpu() -> tuple[torch.device, str] | None:
    """The TPU device and the runtime that drives it, or None. Cached: runtimes initialise once."""
    acc = getattr(torch, "accelerator", None)
    if acc is not None:
        try:
            if acc.is_available():
                current = acc.current_accelerator()
                if current is not None and current.type in ("tpu", "xla"):
                    return current, "torch.accelerator"
        except Exception:  # a broken third-party runtime must not take down `import` or `auto`
            pass
    if importlib.util.find_spec("torch_xla") is None:
        return None
    try:
        xla = _xla_module()
        runtime = importlib.import_module("torch_xla.runtime")
        if str(runtime.device_type()).upper() != "TPU":
            return None
        return torch.device(xla.device()), "torch_xla"
    except Exception:  # torch_xla built for another torch, or no runtime: no TPU for us
        return None


def _reset_detection() -> None:
    """Forget cached detection (tests fake runtimes; a user rarely needs this)."""
    _tpu.cache_clear()


def available_accelerators() -> list[str]:
    """Names of the accelerators present here, in the order ``"auto"`` prefers them; ``"cpu"`` is last.

    CUDA devices are listed one by one (``"cuda:0"``, ``"cuda:1"``, ...).
    """
    names = [f"cuda:{i}" for i in range(_cuda_count())]
    if _tpu() is not None:
        names.append("tpu")
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def resolve_accelerator(name: str | torch.device | Accelerator = "auto") -> Accelerator:
    """Turn an accelerator name into an :class:`Accelerator`.

    Args:
        name: ``"auto"`` (CUDA, then TPU, then MPS, then CPU), ``"cpu"``, ``"cuda"`` / ``"gpu"``,
            ``"cuda:N"``, ``"tpu"``, ``"mps"``, a ``torch.device`` or an ``Accelerator``.

    Raises:
        TypeError: ``name`` is not a string, ``torch.device`` or ``Accelerator``.
        ValueError: unknown name, or an accelerator that this machine does not have (the message lists
            the ones it has).
    """
    if isinstance(name, Accelerator):
        return name
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"accelerator must be a str or torch.device, got {type(name).__name__}")
    text = name.strip().lower()
    kind, _, index_text = text.partition(":")
    if kind not in _KINDS or (index_text and kind not in ("cuda", "gpu")):
        raise ValueError(f"unknown accelerator {name!r}; allowed: {', '.join(_KINDS)} or 'cuda:N'")
    index: int | None = None
    if index_text:
        if not index_text.isdigit():
            raise ValueError(f"accelerator {name!r}: device index must be a non-negative integer")
        index = int(index_text)

    if kind == "auto":
        if _cuda_count():
            return Accelerator("cuda", torch.device("cuda", 0))
        if _tpu() is not None:
            device, runtime = _tpu()
            return Accelerator("tpu", device, runtime)
        if _mps_available():
            return Accelerator("mps", torch.device("mps"))
        return Accelerator("cpu", torch.device("cpu"))
    if kind == "cpu":
        return Accelerator("cpu", torch.device("cpu"))
    if kind in ("cuda", "gpu"):
        count = _cuda_count()
        want = 0 if index is None else index
        if want >= count:
            what = "no CUDA device" if count == 0 else f"{count} CUDA device(s)"
            raise ValueError(
                f"accelerator {name!r} is not available: this machine has {what}; "
                f"available: {available_accelerators()}"
            )
        return Accelerator("cuda", torch.device("cuda", want))
    if kind == "tpu":
        found = _tpu()
        if found is None:
            raise ValueError(
                f"accelerator 'tpu' is not available: no TPU runtime (torch.accelerator or torch_xla) "
                f"reports a TPU; available: {available_accelerators()}"
            )
        return Accelerator("tpu", found[0], found[1])
    if not _mps_available():
        raise ValueError(f"accelerator 'mps' is not available; available: {available_accelerators()}")
    return Accelerator("mps", torch.device("mps"))


# ---------------------------------------------------------------------------------------------- threads


def set_threads(n: int | None = None, *, interop: int | None = 1) -> int:
    """Set this process's torch (OpenMP) thread count deliberately and return it.

    OpenMP pools that together ask for more threads than there are cores do not degrade gently: with
    busy-waiting workers, training here ran 60-100x slower. So each process takes its share.

    Args:
        n: threads for this process. ``None``: the cores this process may use divided by the number of
            local processes (``LOCAL_WORLD_SIZE``, set by torchrun), at least 1.
        interop: inter-op threads; only settable before torch starts parallel work, so a failure to set
            it is ignored.

    Raises:
        ValueError: ``n`` or ``interop`` is smaller than 1.
    """
    if n is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        n = max(1, cores // max(1, local))
    check_int("thread count", n, 1)
    check_int("interop thread count", interop, 1, allow_none=True)
    torch.set_num_threads(n)
    # Children (DataLoader workers, spawned ranks) read the environment, not torch's setting.
    os.environ["OMP_NUM_THREADS"] = str(n)
    if interop is not None:
        try:
            torch.set_num_interop_threads(interop)
        except RuntimeError:
            pass  # already set, or parallel work already started: keep what torch has
    return n


# ---------------------------------------------------------------------------------------------- describe


def describe() -> dict[str, Any]:
    """What this machine offers for training, as a JSON-serialisable dict (used by ``qhybrid info``)."""
    cuda_devices = []
    for i in range(_cuda_count()):
        props = torch.cuda.get_device_properties(i)
        cuda_devices.append(
            {
                "index": i,
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
            }
        )
    tpu = _tpu()
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "available": available_accelerators(),
        "auto": str(resolve_accelerator("auto")),
        "cuda": {"version": torch.version.cuda, "devices": cuda_devices},
        "tpu": None if tpu is None else {"device": str(tpu[0]), "runtime": tpu[1]},
        "mps": _mps_available(),
        "cpu": {
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "distributed": {
            "available": torch.distributed.is_available(),
            "gloo": torch.distributed.is_available() and torch.distributed.is_gloo_available(),
            "nccl": torch.distributed.is_available() and torch.distributed.is_nccl_available(),
        },
    }
