"""Where the cells of a ``qhybrid compare`` grid run: in this process, on a process pool, or on Dask.

:func:`parse_executor` turns ``--executor`` and ``--jobs`` into an :class:`ExecutorSpec` (cheap, before any
work); :func:`open_executor` starts it (a ``ProcessPoolExecutor``, a ``dask.distributed.LocalCluster``, or
a connection to a running Dask scheduler) and stops it again; :func:`results_as_completed` submits the
work to any of them and yields each result as it finishes, so the runner can append each record at once.

An executor is anything with ``submit(fn, *args, **kwargs)`` returning a future that can be waited on:
a ``concurrent.futures.Future`` (``ProcessPoolExecutor``, ``ThreadPoolExecutor``, mpi4py's
``MPIPoolExecutor``, loky), a ``dask.distributed.Future`` (a ``Client``), or any object with ``done()`` and
``result()`` (polled). Dask is the ``distributed`` extra.

>>> parse_executor(None, jobs=None)
ExecutorSpec(kind='serial', workers=1, address=None, dashboard=False)
>>> parse_executor("dask://127.0.0.1:8786", jobs=None).address
'tcp://127.0.0.1:8786'
>>> parse_executor("threads", jobs=None)
Traceback (most recent call last):
...
ValueError: --executor 'threads': allowed: serial, process, dask, dask://HOST:PORT
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ExecutorSpec", "describe_executor", "open_executor", "parse_executor", "results_as_completed"]

ALLOWED = "serial, process, dask, dask://HOST:PORT"

#: Seconds to wait for a ``dask://`` scheduler to answer, and then for its first worker.
CONNECT_TIMEOUT_S = 10

#: The environment of each local Dask worker, set before the worker process starts so that every OpenMP
#: runtime it loads (torch's, Aer's: Aer's default thread count is OpenMP's) starts with one thread.
#: With several busy processes on few cores, more threads per process made training 60-100x slower.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass(frozen=True)
class ExecutorSpec:
    """A checked ``--executor``: ``kind`` is ``serial``, ``process`` or ``dask``; ``workers`` the local
    processes to start (``0`` for an existing Dask scheduler, whose workers are its own); ``address`` the
    scheduler's ``tcp://HOST:PORT`` (``None``: a ``LocalCluster`` on this machine)."""

    kind: str
    workers: int
    address: str | None = None
    #: a local cluster's dashboard on 127.0.0.1 (off unless asked: it shows the cluster's addresses)
    dashboard: bool = False


def _require_dask(value: str) -> None:
    from qhybrid._extras import require

    try:
        require("distributed", f"--executor {value}")
    except ImportError as exc:
        if exc.name != "distributed":
            raise
        raise ValueError(str(exc)) from None  # bad input for the CLI: one line, exit status 2


def _scheduler_address(value: str) -> str:
    host, sep, port = value[len("dask://") :].rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"--executor {value!r}: a Dask scheduler is dask://HOST:PORT, PORT 1-65535 "
            "(e.g. dask://127.0.0.1:8786)"
        )
    return f"tcp://{host}:{int(port)}"


def parse_executor(value: str | None, jobs: int | None, dashboard: bool = False) -> ExecutorSpec:
    """The executor that ``--executor value --jobs jobs`` asks for (``None``: not given).

    Without ``--executor``, ``--jobs 1`` (the default) runs serially and ``--jobs N`` on ``N`` processes, as
    before ``--executor`` existed. ``dask`` starts a ``LocalCluster`` of ``jobs`` single-threaded worker
    processes; ``dask://HOST:PORT`` uses a running scheduler, whose workers decide the parallelism.

    Raises:
        ValueError: an unknown value, a malformed address, ``--jobs`` that does not apply, or Dask not
            installed (naming ``pip install 'qhybrid[distributed]'``).
    """
    if value is not None and not isinstance(value, str):
        raise TypeError(f"executor must be a string, got {type(value).__name__}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"--jobs must be >= 1, got {jobs!r}")
    if dashboard and value != "dask":
        raise ValueError("--dashboard applies to --executor dask (a cluster this command starts) only")
    if value is None:
        return ExecutorSpec("serial", 1) if jobs in (None, 1) else ExecutorSpec("process", jobs)
    if value == "serial":
        if jobs not in (None, 1):
            raise ValueError(
                f"--executor serial runs one cell at a time; --jobs {jobs} needs --executor process or dask"
            )
        return ExecutorSpec("serial", 1)
    if value == "process":
        return ExecutorSpec("process", jobs or 1)
    if value == "dask":
        _require_dask(value)
        return ExecutorSpec("dask", jobs or 1, dashboard=dashboard)
    if value.startswith("dask://"):
        address = _scheduler_address(value)
        if jobs is not None:
            raise ValueError(
                f"--jobs {jobs} does not apply to --executor {value}: the scheduler's workers run the cells "
                "(start them with `dask worker ADDRESS --nthreads 1 --nworkers N`)"
            )
        _require_dask(value)
        return ExecutorSpec("dask", 0, address)
    raise ValueError(f"--executor {value!r}: allowed: {ALLOWED}")


@contextlib.contextmanager
def open_executor(spec: ExecutorSpec) -> Iterator[Any]:
    """The running executor of ``spec`` (``None`` for serial), stopped on leaving: a process pool is shut
    down (pending cells cancelled), a ``LocalCluster`` closed, a ``dask://`` connection closed (the
    scheduler and its workers keep running).

    Raises:
        ValueError: a ``dask://`` scheduler that does not answer, or has no workers, within
            :data:`CONNECT_TIMEOUT_S` seconds.
    """
    if spec.kind == "serial":
        yield None
    elif spec.kind == "process":
        import multiprocessing

        # spawn: forked children would inherit torch/Aer thread pools in a state they cannot use
        pool = cf.ProcessPoolExecutor(
            spec.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_one_thread_each,
            initargs=(os.getpid(),),
        )
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)
    elif spec.address is None:
        with _local_cluster(spec.workers, spec.dashboard) as client:
            yield client
    else:
        client = _connect(spec.address)
        try:
            yield client
        finally:
            client.close()


def _one_thread_each(parent: int) -> None:
    """A pool process's first act, before any cell imports torch or Aer: :data:`WORKER_ENV`. (``run_cell``
    sets ``OMP_NUM_THREADS`` too, but after its imports have loaded Aer, whose OpenMP then keeps every
    core.) Then a watchdog, so that a worker never outlives ``parent``, the command's pid."""
    import os

    os.environ.update(WORKER_ENV)
    _exit_with_parent(parent)


#: How often a pool worker checks that the command that started it still runs.
PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """End this process once ``parent`` is gone (``kill -9`` of ``qhybrid compare --jobs N`` left its
    workers and multiprocessing's resource tracker idle for good): a daemon thread polls the parent pid,
    which changes when the parent dies and this process is adopted. ``parent`` comes from the command,
    not from ``os.getppid()`` here: a worker still starting (importing torch) when the command was killed
    would read its adopter's pid and wait for good."""
    import os
    import threading
    import time

    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # nothing of the cell is kept: its record is written by the parent, which is gone

    threading.Thread(target=watch, name="qhybrid-parent-watch", daemon=True).start()


@contextlib.contextmanager
def _local_cluster(n_workers: int, dashboard: bool = False) -> Iterator[Any]:
    """A LocalCluster that only this command can use: it listens on loopback, and over TLS with a
    certificate made for this run (``Security.temporary``), so another local process, which has not got the
    key, cannot connect and submit work; no dashboard unless asked, and then on loopback."""
    import dask
    from distributed import Client
    from distributed.security import Security

    security = Security.temporary()
    # The scheduler's HTTP pages (worker lists, JSON state) are served only with the dashboard: they need
    # no key. Without it the scheduler (in this process) keeps only its health check.
    routes = None if dashboard else ["distributed.http.health"]
    with dask.config.set({} if routes is None else {"distributed.scheduler.http.routes": routes}):
        cluster = _start_cluster(n_workers, security, dashboard)
    try:
        client = Client(cluster, security=security, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _start_cluster(n_workers: int, security, dashboard: bool):
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,  # one cell at a time per process, as a process pool runs them
        processes=True,
        host="127.0.0.1",
        protocol="tls://",
        security=security,
        dashboard_address="127.0.0.1:0" if dashboard else None,  # a free port when asked
        silence_logs=logging.ERROR,
        # no per-worker share of memory: the cell's own guard (qml.backends.check_fits) decides what fits,
        # as it does serially and on a process pool; Dask's share would kill a worker it allowed
        memory_limit=0,
        # workers' own HTTP pages: the health check only (their metrics need no key either)
        env={**WORKER_ENV, "DASK_DISTRIBUTED__WORKER__HTTP__ROUTES": '["distributed.http.health"]'},
    )


def _connect(address: str) -> Any:
    from distributed import Client

    hint = (
        f"start one with `dask scheduler` and workers with `dask worker {address} --nthreads 1`, or use "
        "--executor dask for a cluster on this machine"
    )
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except OSError:
        raise ValueError(
            f"--executor dask://{address[len('tcp://') :]}: no Dask scheduler answered at {address} within "
            f"{CONNECT_TIMEOUT_S} s; {hint}"
        ) from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        client.close()
        raise ValueError(
            f"--executor dask://{address[len('tcp://') :]}: the Dask scheduler at {address} has no workers "
            f"after {CONNECT_TIMEOUT_S} s; {hint}"
        ) from None
    return client


def describe_executor(spec: ExecutorSpec, executor: Any) -> str:
    """One line saying where the cells run (for the command's log)."""
    if spec.kind == "serial":
        return "cells run one after another in this process"
    if spec.kind == "process":
        return f"cells run in {spec.workers} worker processes"
    threads = sorted(w["nthreads"] for w in executor.scheduler_info(n_workers=-1)["workers"].values())
    where = (
        "a Dask LocalCluster (TLS, loopback)"
        if spec.address is None
        else f"the Dask scheduler at {spec.address}"
    )
    line = f"cells run on {where}: {len(threads)} workers, threads per worker {sorted(set(threads))}"
    if spec.dashboard and getattr(executor, "dashboard_link", None):
        line += f"; dashboard {executor.dashboard_link}"
    if threads and threads[-1] > 1:
        line += (
            " (a worker with more threads runs several cells in one process at once, and their timings "
            "disturb each other: start workers with --nthreads 1)"
        )
    return line


# ------------------------------------------------------------------------------------------- submitting


def _dask_module():
    return sys.modules.get("distributed")  # not imported: no Dask client or future can exist


def _submit(executor: Any, fn: Callable, item: Any, args: tuple, kwargs: dict) -> Any:
    dask = _dask_module()
    if dask is not None and isinstance(executor, dask.Client):
        # pure=False: a cell's record holds measured timings, so a resubmitted cell runs again rather
        # than returning a result Dask still holds under the same key
        return executor.submit(fn, item, *args, pure=False, **kwargs)
    return executor.submit(fn, item, *args, **kwargs)


def _check_future(future: Any, executor: Any) -> None:
    if isinstance(future, cf.Future) or all(callable(getattr(future, a, None)) for a in ("done", "result")):
        return
    raise TypeError(
        f"{type(executor).__name__}.submit returned a {type(future).__name__}, which cannot be waited on: "
        "an executor's futures must be concurrent.futures.Future, dask.distributed.Future, or have done() "
        "and result()"
    )


def _as_completed(futures: list[Any], poll_s: float = 0.05) -> Iterator[Any]:
    if not futures:
        return
    dask = _dask_module()
    if dask is not None and all(isinstance(f, dask.Future) for f in futures):
        # the client's loop: ours is not the default client, which as_completed would look for
        yield from dask.as_completed(futures, loop=futures[0].client.loop)
    elif all(isinstance(f, cf.Future) for f in futures):
        yield from cf.as_completed(futures)
    else:  # other futures: poll done()
        pending = list(futures)
        while pending:
            done, still = [], []
            for f in pending:
                (done if f.done() else still).append(f)
            pending = still
            yield from done
            if not done:
                time.sleep(poll_s)


def _cancel(executor: Any, futures: list[Any]) -> None:
    left = [f for f in futures if not f.done()]
    dask = _dask_module()
    if left and dask is not None and isinstance(executor, dask.Client):
        executor.cancel(left)  # one message to the scheduler, not one per future
    else:
        for f in left:
            f.cancel()


def results_as_completed(executor: Any, fn: Callable, items: Iterable, *args: Any, **kwargs: Any) -> Iterator:
    """``fn(item, *args, **kwargs)`` for each item on ``executor``, each result yielded as soon as it is
    ready (in the order they finish). Leaving early (an exception, an interrupt, closing the generator)
    cancels the calls not yet finished. A call that raised raises here.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     sorted(results_as_completed(pool, pow, [1, 2, 3], 2))
    [1, 4, 9]
    """
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"an executor needs a submit(fn, *args, **kwargs) method; {type(executor).__name__} has none"
        )
    futures: list[Any] = []
    try:
        for item in items:
            future = _submit(executor, fn, item, args, kwargs)
            if not futures:
                _check_future(future, executor)
            futures.append(future)
        for future in _as_completed(futures):
            yield future.result()
    finally:
        _cancel(executor, futures)
