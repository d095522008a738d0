"""Spare state-sized arrays kept between calls, so a wide state is not page-faulted in again every pass.

glibc serves blocks past its mmap threshold (at most 32 MiB on 64-bit, whatever :mod:`.memory` asks) with
``mmap`` and unmaps them on ``free``: each new 1 GiB state (a 12-qubit x 8-row density matrix's Pauli
coefficients) is faulted in and zeroed by the kernel again, 0.15-0.25 s here, against 0.05-0.09 s for the
pass that fills it. A step makes about ten. :class:`Buffers` holds the arrays a call gave back and hands them
to the next pass that needs one of the same shape: as PyTorch's caching allocator does on CUDA, the
memory stays with the process (at the most the call ever held at once) and is freed with the circuit.
"""

from __future__ import annotations

import threading

import numpy as np

#: Arrays smaller than this come from malloc as usual (1 MiB).
MIN_BYTES = 1 << 20


class Buffers:
    """Free float64 arrays by shape; :meth:`take` one, :meth:`give` back those no one else holds."""

    def __init__(self):
        self._free: dict[tuple[int, ...], list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialised C-contiguous float64 array of ``shape``."""
        shape = tuple(shape)
        with self._lock:
            free = self._free.get(shape)
            if free:
                return free.pop()
        return np.empty(shape)

    def give(self, *arrays) -> None:
        """Arrays the caller owns and no longer reads (others, views and small ones are left alone)."""
        with self._lock:
            for a in arrays:
                if (
                    isinstance(a, np.ndarray)
                    and a.base is None
                    and a.dtype == np.float64
                    and a.flags.c_contiguous
                    and a.nbytes >= MIN_BYTES
                ):
                    free = self._free.setdefault(a.shape, [])
                    if not any(b is a for b in free):
                        free.append(a)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
