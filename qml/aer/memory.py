"""How much memory the Aer paths may hold: what the machine has, and the budgets the device plans against."""

from __future__ import annotations

import os
from dataclasses import dataclass


def available_memory_bytes() -> int:
    """Memory the operating system reports as available (``MemAvailable``), or physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass
class MemoryBudget:
    """Bytes each memory-hungry path may hold at once.

    Attributes:
        adjoint: saved states of an adjoint gradient (default: a quarter of available memory, at most 2 GiB).
        forward_states: final states a forward pass keeps for the gradient that follows it.
        joint: row states of one joint (batch-as-register) Aer experiment.
    """

    adjoint: int
    forward_states: int = 256 * 1024**2
    joint: int = 512 * 1024**2

    @classmethod
    def default(cls, adjoint: int | None = None) -> MemoryBudget:
        return cls(adjoint=adjoint or min(available_memory_bytes() // 4, 2 * 1024**3))
