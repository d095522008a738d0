"""Idle threads that sleep instead of spinning, for programs that mix torch, Aer and numpy on few cores.

torch and Aer each start an OpenMP pool, and numpy's OpenBLAS a pool of its own; by default an idle thread
of each keeps spinning for a while after its last task, on the cores the next library wants. Measured on a
2-core machine: two spinning OpenMP pools slowed 2-thread torch training 60-100x; OpenBLAS threads still
spinning after a small product in PennyLane's pipeline doubled the Aer call that followed (11 -> 21 ms for
a 16-qubit QAOA forward pass; a 12-qubit x 32 QuantumLayer step 119 -> 87 ms once they sleep).

The settings are read when each library loads, so :func:`wait_passively` must run before numpy, torch or
qiskit_aer is imported: the ``qhybrid`` command, the examples, the benchmarks and the tests call it first.
A program that imports qhybrid as a library sets the same environment variables itself (README, "Threads").
It changes when idle threads sleep, never how many threads run or what they compute.
"""

from __future__ import annotations

import os

#: ``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads (torch, Aer) sleep when idle. ``OPENBLAS_THREAD_TIMEOUT=4``:
#: OpenBLAS threads sleep after 2**4 cycles idle instead of 2**28 (about 0.1 s); 4 is the smallest allowed.
WAITING = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


def wait_passively() -> None:
    """Set :data:`WAITING` in the environment, keeping any value the user already chose."""
    for name, value in WAITING.items():
        os.environ.setdefault(name, value)
