"""The compare grid on Dask (hybrid.executors): the same records and report as a serial run, each record
appended by the main process under the folder lock as its cell finishes, resume after an interrupt, one
thread per worker, and one clear line for a bad ``--executor``.

One 2-worker ``LocalCluster`` (1 thread each, started by :func:`open_executor`) serves the whole module.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("distributed")

from qhybrid.hybrid import executors, results_file, runner  # noqa: E402
from qhybrid.hybrid.cli import main  # noqa: E402
from qhybrid.hybrid.config import parse_config  # noqa: E402
from qhybrid.hybrid.executors import (  # noqa: E402
    ExecutorSpec,
    open_executor,
    parse_executor,
    results_as_completed,
)
from qhybrid.hybrid.report import render_report  # noqa: E402
from qhybrid.hybrid.runner import Runner, grid, read_results  # noqa: E402

CONFIG = {
    "name": "dask",
    "models": ["logreg", "svc", "mlp"],
    "datasets": ["iris", "moons"],
    "seeds": 2,
    "data": {"n_samples": 80},
    "params": {"mlp": {"hidden": [8], "max_epochs": 5}},
    # random_state: one search per (model, data set) in a process, shared by its seeds
    "search": {"method": "grid", "cv": 3, "random_state": 0, "space": {"svc": {"C": [0.5, 2.0]}}},
}

#: What depends on how and where a cell ran, not on what it computed: measured times and clock stamps, and
#: whether this process had already run the cell's shared search (which worker got which seed).
HOW_IT_RAN = {
    "started",
    "finished",
    "fit_seconds",
    "search_seconds",
    "mean_fit_seconds",
    "inference_batch_seconds",
    "inference_latency_ms",
    "inference_samples_per_s",
    "search_reused",
}


def _what_it_computed(value):
    if isinstance(value, dict):
        return {k: _what_it_computed(v) for k, v in value.items() if k not in HOW_IT_RAN}
    if isinstance(value, list):
        return [_what_it_computed(v) for v in value]
    return value


def _scheduler_tasks(client, states=None) -> int:
    def count(dask_scheduler, states=states):
        return sum(states is None or ts.state in states for ts in dask_scheduler.tasks.values())

    return client.run_on_scheduler(count)


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    """The serial run sets torch's threads and OMP_NUM_THREADS to 1 in this process; later test files get
    them back."""
    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def client():
    with open_executor(ExecutorSpec("dask", 2)) as c:
        yield c


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    Runner(parse_config(CONFIG), out, progress=False).run()
    return out


@pytest.fixture(scope="module")
def on_dask(client, tmp_path_factory):
    """A Dask run whose appends are watched: (folder, one entry per append)."""
    out = tmp_path_factory.mktemp("dask")
    seen = []
    real = runner.append_record

    def watched(path, record):
        with open(path.parent / results_file.LOCK_FILE) as fh, pytest.raises(BlockingIOError):
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the run holds the folder lock
        left = _scheduler_tasks(client, states={"queued", "processing", "waiting", "no-worker"})
        seen.append({"pid": os.getpid(), "lines": len(read_results(path)), "cells_left": left})
        real(path, record)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "append_record", watched)
        Runner(parse_config(CONFIG), out, executor=client, progress=False).run()
    return out, seen


def test_dask_records_equal_serial_records(serial, on_dask):
    out, _ = on_dask
    by_key = {r["key"]: r for r in read_results(serial)}
    dask_records = read_results(out)
    assert (
        sorted(r["key"] for r in dask_records)
        == sorted(by_key)
        == sorted(c.key for c in grid(parse_config(CONFIG)))
    )
    assert all(r["status"] == "ok" for r in dask_records)
    for r in dask_records:
        assert _what_it_computed(r) == _what_it_computed(by_key[r["key"]]), r["key"]
    svc = [r for r in dask_records if r["model"] == "svc"]
    assert {r["best_params"]["C"] for r in svc} <= {0.5, 2.0} and all(r["cv_results"] for r in svc)


def test_each_record_is_appended_by_this_process_as_its_cell_finishes(on_dask):
    out, seen = on_dask
    n = len(grid(parse_config(CONFIG)))
    assert [s["lines"] for s in seen] == list(range(n))  # one line per finished cell, in turn
    assert {s["pid"] for s in seen} == {os.getpid()}
    assert seen[0]["cells_left"] > 0  # the first record was written while other cells still ran
    assert len((out / "results.jsonl").read_text().splitlines()) == n


def _normalised_report(src: Path, dst: Path) -> dict:
    """The report of ``src``'s records with every timing set to one value (records in the file's order)."""
    dst.mkdir()
    records = []
    for r in read_results(src):
        r = {k: (1.0 if k.endswith(("_seconds", "_ms", "_per_s")) else v) for k, v in r.items()}
        records.append({**r, "started": "T", "finished": "T"})
    (dst / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (dst / "experiment.json").write_text((src / "experiment.json").read_text())
    report = render_report(dst, plots=False)
    return {
        "table": report["table"],
        "md": (dst / "summary.md").read_text(),
        "csv": (dst / "summary.csv").read_text(),
    }


def test_dask_report_equals_serial_report(serial, on_dask, tmp_path):
    out, _ = on_dask
    # the Dask file holds the records in the order the cells finished; the report must not depend on it
    dask_report = _normalised_report(out, tmp_path / "d")
    serial_report = _normalised_report(serial, tmp_path / "s")
    assert dask_report == serial_report
    assert "svc" in dask_report["table"] and "mlp" in dask_report["table"]


def test_interrupted_dask_run_resumes_without_rerunning_a_cell(client, tmp_path, monkeypatch):
    cfg = parse_config(CONFIG)
    real = runner.append_record
    written = []

    def interrupt_at_the_fifth(path, record):
        if len(written) == 4:
            raise KeyboardInterrupt  # Ctrl-C while the main process waits for the next cell
        real(path, record)
        written.append(record["key"])

    monkeypatch.setattr(runner, "append_record", interrupt_at_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        Runner(cfg, tmp_path, executor=client, progress=False).run()
    monkeypatch.undo()
    assert [r["key"] for r in read_results(tmp_path)] == written
    deadline = time.monotonic() + 10
    while _scheduler_tasks(client) and time.monotonic() < deadline:  # the unfinished cells were cancelled
        time.sleep(0.1)
    assert _scheduler_tasks(client) == 0

    new = Runner(cfg, tmp_path, executor=client, progress=False).run()
    assert sorted(r["key"] for r in new) == sorted(c.key for c in grid(cfg) if c.key not in written)
    assert all(r["status"] == "ok" for r in new)
    lines = (tmp_path / "results.jsonl").read_text()
    assert Runner(cfg, tmp_path, executor=client, progress=False).run() == []  # nothing left: no cell re-run
    assert (tmp_path / "results.jsonl").read_text() == lines


def test_workers_run_one_thread_for_torch_openmp_and_aer(client, on_dask):
    def threads():
        from qiskit import QuantumCircuit
        from qiskit_aer import AerSimulator

        qc = QuantumCircuit(15)  # above Aer's statevector_parallel_threshold (14): Aer would use every core
        qc.h(range(15))
        qc.save_statevector()
        result = AerSimulator(method="statevector").run(qc).result()
        return {
            "omp": os.environ.get("OMP_NUM_THREADS"),
            "torch": torch.get_num_threads(),
            "aer": result.results[0].metadata["parallel_state_update"],
        }

    per_worker = client.run(threads)
    assert len(per_worker) == 2
    assert all(t == {"omp": "1", "torch": 1, "aer": 1} for t in per_worker.values()), per_worker
    assert all(w["nthreads"] == 1 for w in client.scheduler_info(n_workers=-1)["workers"].values())


def test_process_pool_workers_start_with_one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # what the pool's processes inherit
    with open_executor(ExecutorSpec("process", 1)) as pool:
        assert pool.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"
        assert pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result() == "1"


# ------------------------------------------------------------------------------------------ the command


def _compare(capsys, out, *flags):
    code = main(
        ["compare", "--models", "logreg", "--datasets", "iris", "--seeds", "2", "--out", str(out)]
        + ["--no-progress", "--no-plots", *flags]
    )
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


@pytest.fixture(scope="module")
def plain_scheduler():
    """A scheduler someone started by hand (``dask scheduler`` and workers): plain TCP, no key."""
    from distributed import Client, LocalCluster

    from qhybrid.hybrid.executors import WORKER_ENV

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,
        env=dict(WORKER_ENV),
    )
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def test_compare_on_a_running_scheduler(plain_scheduler, capsys, tmp_path):
    address = plain_scheduler.scheduler.address  # tcp://127.0.0.1:PORT
    code, err, out = _compare(capsys, tmp_path, "--executor", "dask://" + address[len("tcp://") :])
    assert code == 0, err
    assert f"cells run on the Dask scheduler at {address}: 2 workers, threads per worker [1]" in err[0]
    assert len(read_results(tmp_path)) == 2 and "logreg" in out
    code, err, _ = _compare(capsys, tmp_path, "--executor", "dask://" + address[len("tcp://") :])
    assert code == 0 and "2 already done, 0 to run" in err[0]


@pytest.mark.slow
def test_compare_on_a_local_cluster(capsys, tmp_path):
    code, err, _ = _compare(capsys, tmp_path, "--executor", "dask", "--jobs", "2")
    assert code == 0, err
    assert "cells run on a Dask LocalCluster (TLS, loopback): 2 workers, threads per worker [1]" in err[0]
    assert "dashboard" not in err[0]
    assert sorted(r["seed"] for r in read_results(tmp_path)) == [0, 1]


def test_the_local_cluster_refuses_a_client_without_its_key():
    """Another local process finds the scheduler's port but has not got this run's TLS key: it cannot
    connect, let alone submit work; the cluster listens on loopback only and has no dashboard."""
    from distributed import Client

    from qhybrid.hybrid.executors import _local_cluster

    with _local_cluster(1) as client:
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert client.submit(lambda: 41 + 1).result(timeout=60) == 42
        port = client.scheduler_info().get("services", {}).get("dashboard")
        if port is not None:  # the scheduler keeps a health check; no page about the cluster is served
            import urllib.error
            import urllib.request

            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/info/main/workers.html", timeout=5)
        from distributed.security import Security

        with pytest.raises((OSError, TimeoutError)):  # TLS with a key of its own: not trusted
            Client(address, security=Security.temporary(), timeout=3, set_as_default=False)
        with pytest.raises((OSError, TimeoutError)):  # no TLS at all
            Client(address.replace("tls://", "tcp://"), timeout=3, set_as_default=False)


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--executor", "threads"], "--executor 'threads': allowed: serial, process, dask, dask://HOST:PORT"),
        (
            ["--executor", "dask://"],
            "--executor 'dask://': a Dask scheduler is dask://HOST:PORT, PORT 1-65535",
        ),
        (["--executor", "dask://host"], "--executor 'dask://host': a Dask scheduler is dask://HOST:PORT"),
        (["--executor", "dask://host:99999"], "--executor 'dask://host:99999': a Dask scheduler is"),
        (
            ["--executor", "serial", "--jobs", "2"],
            "--executor serial runs one cell at a time; --jobs 2 needs",
        ),
        (
            ["--executor", "dask://h:8786", "--jobs", "2"],
            "--jobs 2 does not apply to --executor dask://h:8786",
        ),
        (["--executor", "dask", "--jobs", "0"], "--jobs must be >= 1, got 0"),
        (["--jobs", "2", "--dashboard"], "--dashboard applies to --executor dask"),
    ],
)
def test_bad_executor_is_one_line_before_any_cell(capsys, tmp_path, flags, expected):
    code, err, out = _compare(capsys, tmp_path, *flags)
    assert code == 2 and len(err) == 1 and out == ""
    assert err[0].startswith("qhybrid: error: ") and expected in err[0], err
    assert not (tmp_path / "results.jsonl").exists()


def test_unreachable_scheduler_is_one_line_before_any_cell(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    code, err, out = _compare(capsys, tmp_path, "--executor", f"dask://127.0.0.1:{port}")
    assert code == 2 and out == "" and time.monotonic() - t0 < 30
    assert len(err) == 1 and err[0] == (
        f"qhybrid: error: --executor dask://127.0.0.1:{port}: no Dask scheduler answered at "
        f"tcp://127.0.0.1:{port} within 1 s; start one with `dask scheduler` and workers with "
        f"`dask worker tcp://127.0.0.1:{port} --nthreads 1`, or use --executor dask for a cluster on this "
        "machine"
    )
    assert not (tmp_path / "results.jsonl").exists()


def test_without_dask_the_extra_is_named(capsys, tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def no_distributed(name, *args):
        if name == "distributed":
            raise ModuleNotFoundError("No module named 'distributed'", name="distributed")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_distributed)
    for executor in ("dask", "dask://127.0.0.1:8786"):
        code, err, _ = _compare(capsys, tmp_path, "--executor", executor)
        assert code == 2 and err == [
            f"qhybrid: error: --executor {executor} needs dask, which is not installed: "
            "pip install 'qhybrid[distributed]'"
        ]
    assert not (tmp_path / "results.jsonl").exists()


# ------------------------------------------------------------------------------------ the executor API


def test_default_executor_follows_jobs():
    assert parse_executor(None, None) == ExecutorSpec("serial", 1)
    assert parse_executor(None, 3) == ExecutorSpec("process", 3)
    assert parse_executor("process", None) == ExecutorSpec("process", 1)
    assert parse_executor("dask", 3) == ExecutorSpec("dask", 3)
    assert parse_executor("dask://[::1]:8786", None) == ExecutorSpec("dask", 0, "tcp://[::1]:8786")
    with pytest.raises(TypeError, match="executor must be a string, got int"):
        parse_executor(3, None)


class _Later:
    """An executor whose futures are neither concurrent.futures nor Dask ones: done() and result() only."""

    class Future:
        def __init__(self, value, ready_at):
            self.value, self.ready_at = value, ready_at

        def done(self):
            return time.monotonic() >= self.ready_at

        def result(self):
            return self.value

        def cancel(self):
            return False

    def submit(self, fn, *args, **kwargs):
        delay = args[0] * 0.1  # 0.1 s apart: each lands in its own poll (every 0.05 s)
        return self.Future(fn(*args, **kwargs), time.monotonic() + delay)


def test_any_future_with_done_and_result_is_waited_on_in_finishing_order():
    assert list(results_as_completed(_Later(), pow, [5, 1, 3], 2)) == [1, 9, 25]


def test_executors_that_cannot_be_used_are_named():
    with pytest.raises(TypeError, match="an executor needs a submit"):
        list(results_as_completed(object(), pow, [1], 2))

    class Eager:
        def submit(self, fn, *args):
            return fn(*args)

    with pytest.raises(TypeError, match=r"Eager.submit returned a int, which cannot be waited on"):
        list(results_as_completed(Eager(), pow, [1], 2))
    with pytest.raises(TypeError, match=r"executor must have a submit\(fn, \*args, \*\*kwargs\) method"):
        Runner(parse_config(CONFIG), "unused", executor="dask")


# --------------------------------------------------------------------------------- Ctrl-C on the command

_ARGV = [
    "compare", "--models", "mlp", "--datasets", "moons", "--seeds", "6", "--executor", "dask", "--jobs", "2",
    "--no-progress", "--no-plots",
]  # fmt: skip


@pytest.mark.slow
def test_ctrl_c_stops_a_dask_run_and_the_same_command_resumes(tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "qhybrid.hybrid.cli", *_ARGV, "--out", str(out)]
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while len(read_results(out) if out.exists() else []) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted; finished results are kept")
    first = [r["key"] for r in read_results(out)]
    assert 2 <= len(first) < 6

    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} already done, {6 - len(first)} to run" in again.stderr
    final = [r["key"] for r in read_results(out)]
    assert final[: len(first)] == first and len(final) == len(set(final)) == 6  # nothing ran twice
