"""How much memory the Aer paths may hold: what the machine has, and the budgets the device plans against.

Every Aer job passes :meth:`MemoryBudget.require` first: a job whose state cannot fit stops with the
numbers before Aer allocates anything. The paths that hold many states at once (adjoint snapshots, joint
registers, kept forward states) plan against their own budgets and fall back to leaner layouts (fewer rows
per experiment, parameter shift) when even one row does not fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def available_memory_bytes() -> int:
    """Memory this process may still take: the smallest of what the operating system reports as available
    (``MemAvailable``, else physical memory) and the room left under the memory limit of the process's
    control group (cgroup v2 ``memory.max - memory.current``, v1 ``memory.limit_in_bytes -
    memory.usage_in_bytes``): in a container (docker ``--memory``, Kubernetes, Slurm) ``MemAvailable`` is
    the host's, and a state that passes it is killed by the limit."""
    system = _meminfo_available()
    room = cgroup_headroom()
    return system if room is None else min(system, room)


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


#: A cgroup limit at or above this means "no limit" (v1 writes 2**63 rounded down to a page).
_NO_LIMIT = 1 << 60


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None  # "max" (v2's no limit) is not a number


def cgroup_headroom(root: str = "/sys/fs/cgroup", self_cgroup: str = "/proc/self/cgroup") -> int | None:
    """Bytes left under this process's cgroup memory limit, or None where there is no limit (or no
    cgroup to read). The process's own cgroup path comes from ``self_cgroup``; a container that mounts its
    cgroup at the root is read there."""
    try:
        with open(self_cgroup) as f:
            lines = [line.strip().split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        lines = []
    v2 = [p for h, c, p in lines if h == "0" and c == ""]
    v1 = [p for h, c, p in lines if "memory" in c.split(",")]
    candidates = [(f"{root}{p}".rstrip("/"), "memory.max", "memory.current") for p in v2]
    candidates.append((root, "memory.max", "memory.current"))
    candidates += [
        (f"{root}/memory{p}".rstrip("/"), "memory.limit_in_bytes", "memory.usage_in_bytes") for p in v1
    ]
    candidates.append((f"{root}/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"))
    for folder, limit_file, usage_file in candidates:
        limit = _read_int(f"{folder}/{limit_file}")
        usage = _read_int(f"{folder}/{usage_file}")
        if limit is not None and usage is not None and limit < _NO_LIMIT:
            return max(0, limit - usage)
    return None


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


class InsufficientMemoryError(ValueError):
    """A job that cannot fit in the memory this device may use (raised before Aer allocates it)."""


@dataclass
class MemoryBudget:
    """Bytes each memory-hungry path may hold at once.

    Attributes:
        available: what one Aer job may allocate in all (default: the memory available when the device
            was made).
        adjoint: saved states of an adjoint gradient (default: a quarter of ``available``, at most 2 GiB).
        forward_states: final states a forward pass keeps for the gradient that follows it.
        joint: row states of one joint (batch-as-register) Aer experiment.
    """

    available: int
    adjoint: int
    forward_states: int = 256 * 1024**2
    joint: int = 256 * 1024**2

    @classmethod
    def default(cls, adjoint: int | None = None, available: int | None = None) -> MemoryBudget:
        have = available or available_memory_bytes()
        return cls(available=have, adjoint=adjoint or min(have // 4, 2 * 1024**3))

    def joint_budget(self) -> int:
        """Bytes of row states one joint experiment may hold: its own budget, within what is available."""
        return min(self.joint, self.available // 4)

    def require(self, n_qubits: int, density: bool, what: str) -> None:
        """Refuse a job whose simulator state (Aer holds it, and hands back a copy) cannot fit."""
        state = 16 * (4 if density else 2) ** n_qubits
        if 2 * state > self.available:
            kind = "density matrix" if density else "statevector"
            raise InsufficientMemoryError(
                f"{what} needs a {n_qubits}-qubit {kind} ({_gib(state)}, twice that while Aer returns it) but "
                f"only {_gib(self.available)} may be used; use fewer qubits (or 'aer.mps' for wide, shallow "
                "circuits)"
            )
