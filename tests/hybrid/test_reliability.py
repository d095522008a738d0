"""Bad input stops before any work, and a failed run says so (issue #12).

* the estimators of ``hybrid.models`` refuse a bad constructor argument in ``fit``, before any data is
  checked or any module built, with one error naming the argument, its value and what is allowed, while
  ``clone`` / ``get_params`` / ``set_params`` keep any value (scikit-learn's convention);
* ``Runner`` used from Python checks its experiment (``hybrid.validation.check_experiment``) and its folder
  at the start of ``run``, and ``qhybrid compare`` does not check twice;
* ``qhybrid report`` exits 1 on a folder with failed cells, with the same last line as ``qhybrid compare``.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

from qhybrid.hybrid import compare_cmd, estimators, runner, validation
from qhybrid.hybrid.cli import main
from qhybrid.hybrid.config import parse_config
from qhybrid.hybrid.models import make_model
from qhybrid.hybrid.runner import Runner

TORCH_MODELS = ["mlp", "vqc", "drc", "iqp", "dressed", "hybrid-mlp"]
QUANTUM_MODELS = ["vqc", "drc", "iqp", "dressed", "hybrid-mlp"]
X = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]]
Y = [0, 1, 0, 1]


def _model(name, **params):
    if name != "mlp":
        params.setdefault("backend", "default")
    return make_model(name, **params)


@pytest.fixture
def no_work(monkeypatch):
    """Make any step past the parameter checks fail loudly: checking the data, building, training."""

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the parameters were checked")

    monkeypatch.setattr(estimators, "validate_data", refuse)
    monkeypatch.setattr(estimators, "fit_module", refuse)


def _raises(estimator, kind, pattern):
    with pytest.raises(kind, match=pattern) as info:
        estimator.fit(X, Y)
    if kind is ValueError:  # a value out of range is a plain ValueError, not a type error
        assert not isinstance(info.value, TypeError), info.value
    return info.value


# ------------------------------------------------------------------------------------- estimators


COMMON = [
    ({"random_state": -1}, ValueError, r"^random_state must be in 0..4294967295, got -1$"),
    (
        {"random_state": 0.5},
        TypeError,
        r"^random_state must be an integer in 0..4294967295, a numpy RandomState or None, got 0\.5$",
    ),
    (
        {"random_state": True},
        TypeError,
        r"^random_state must be an integer in 0..4294967295, .* got bool True$",
    ),
    ({"random_state": "3"}, TypeError, r"^random_state must be an integer in 0..4294967295, .* got str '3'$"),
    ({"lr": math.inf}, ValueError, r"^lr must be a finite number, got inf$"),
    ({"lr": -math.inf}, ValueError, r"^lr must be a finite number, got -inf$"),
    ({"lr": math.nan}, ValueError, r"^lr must be a finite number, got nan$"),
    ({"lr": -1}, ValueError, r"^lr must be > 0, got -1$"),
    ({"lr": 0.0}, ValueError, r"^lr must be > 0, got 0\.0$"),
    ({"lr": "0.1"}, TypeError, r"^lr must be a finite number > 0, got str '0\.1'$"),
    ({"lr": True}, TypeError, r"^lr must be a finite number > 0, got bool True$"),
    ({"max_epochs": 0}, ValueError, r"^max_epochs must be in 1..1000000, got 0$"),
    ({"max_epochs": -3}, ValueError, r"^max_epochs must be in 1..1000000, got -3$"),
    ({"max_epochs": 2.0}, TypeError, r"^max_epochs must be an integer in 1..1000000, got 2\.0$"),
    ({"max_epochs": True}, TypeError, r"^max_epochs must be an integer in 1..1000000, got bool True$"),
    ({"batch_size": 0}, ValueError, r"^batch_size must be >= 1, got 0$"),
    ({"batch_size": "32"}, TypeError, r"^batch_size must be an integer >= 1, got str '32'$"),
]


@pytest.mark.parametrize("name", TORCH_MODELS)
@pytest.mark.parametrize(
    "params, kind, pattern", COMMON, ids=lambda v: repr(v) if isinstance(v, dict) else ""
)
def test_training_arguments_are_refused_in_fit_before_any_work(no_work, name, params, kind, pattern):
    _raises(_model(name, **params), kind, pattern)


QUANTUM = [
    ({"n_qubits": 0}, ValueError, r"^n_qubits must be >= 1, got 0$"),
    ({"n_qubits": "4"}, TypeError, r"^n_qubits must be an integer >= 1 or None, got str '4'$"),
    ({"n_qubits": 2.0}, TypeError, r"^n_qubits must be an integer >= 1 or None, got 2\.0$"),
    ({"n_layers": 0}, ValueError, r"^n_layers must be >= 1, got 0$"),
    ({"n_layers": True}, TypeError, r"^n_layers must be an integer >= 1, got bool True$"),
    ({"entangling": "no"}, TypeError, r"^entangling must be True or False, got str 'no'$"),
    ({"entangling": 0}, TypeError, r"^entangling must be True or False, got 0$"),
    ({"shots": 0}, ValueError, r"^shots must be >= 1, got 0$"),
    ({"shots": 1.5}, TypeError, r"^shots must be an integer >= 1 or None, got 1\.5$"),
    ({"backend": 3}, TypeError, r"^backend must be a backend name \(str\), got 3$"),
]


@pytest.mark.parametrize("name", QUANTUM_MODELS)
@pytest.mark.parametrize(
    "params, kind, pattern", QUANTUM, ids=lambda v: repr(v) if isinstance(v, dict) else ""
)
def test_circuit_arguments_are_refused_in_fit_before_any_work(no_work, name, params, kind, pattern):
    _raises(_model(name, **params), kind, pattern)


@pytest.mark.parametrize(
    "name, params, kind, pattern",
    [
        ("mlp", {"hidden": 8}, TypeError, r"^hidden must be a list or tuple of integers >= 1 .*got 8$"),
        ("mlp", {"hidden": "8"}, TypeError, r"^hidden must be a list or tuple .*got str '8'$"),
        ("mlp", {"hidden": (8, 0)}, ValueError, r"^hidden\[1\] must be >= 1, got 0$"),
        ("mlp", {"hidden": [8, 2.5]}, TypeError, r"^hidden\[1\] must be an integer >= 1, got 2\.5$"),
        ("hybrid-mlp", {"hidden": (0,)}, ValueError, r"^hidden\[0\] must be >= 1, got 0$"),
        ("hybrid-mlp", {"hidden": None}, TypeError, r"^hidden must be a list or tuple .*got None$"),
        ("drc", {"input_scale": math.nan}, ValueError, r"^input_scale must be a finite number, got nan$"),
        ("drc", {"input_scale": math.inf}, ValueError, r"^input_scale must be a finite number, got inf$"),
        ("drc", {"input_scale": True}, TypeError, r"^input_scale must be a finite number or None, got bool"),
        ("drc", {"input_scale": "1"}, TypeError, r"^input_scale must be a finite number or None, got str"),
    ],
)
def test_model_specific_arguments_are_refused_before_any_work(no_work, name, params, kind, pattern):
    _raises(_model(name, **params), kind, pattern)


def test_the_type_errors_are_also_value_errors(no_work):
    # code that caught ValueError for a bad argument still does (as for scikit-learn's own checks)
    err = _raises(_model("mlp", random_state=0.5), TypeError, "random_state")
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_clone_get_params_and_set_params_keep_bad_values_until_fit(no_work, name):
    # scikit-learn's convention: __init__ and set_params store, fit validates
    bad = {"random_state": -1, "lr": math.inf, "max_epochs": 0, "batch_size": 0}
    est = _model(name, **bad)
    copy = clone(est)
    assert copy is not est
    params = copy.get_params()
    assert all(params[k] == v for k, v in bad.items())
    copy.set_params(random_state=0.5, lr=-1)
    assert copy.get_params()["random_state"] == 0.5 and est.get_params()["random_state"] == -1
    with pytest.raises(ValueError, match=r"^max_epochs must be in 1..1000000, got 0$"):
        copy.fit(X, Y)
    clone(_model(name))  # and the defaults clone as they always did


def test_good_values_still_train(monkeypatch):
    est = _model("mlp", hidden=[4], max_epochs=1, batch_size=2, lr=1, random_state=np.int64(3))
    assert est.fit(X, Y).predict(X).shape == (4,)
    est = _model("mlp", hidden=(), max_epochs=1, random_state=np.random.RandomState(0))
    assert est.fit(X, Y).predict(X).shape == (4,)
    fixed = clone(_model("dressed", n_qubits=2, n_layers=1, max_epochs=1, random_state=-1))
    fixed.set_params(random_state=0, lr=np.float32(0.1), shots=None, n_qubits=np.int64(2))
    assert fixed.fit(X, Y).predict(X).shape == (4,)
    drc = _model("drc", input_scale=None, max_epochs=1, random_state=0)
    assert drc.fit(X, Y).predict(X).shape == (4,)


# ------------------------------------------------------------------------------------------ Runner


SMALL = {
    "name": "small",
    "models": ["svc", "dressed"],
    "datasets": ["moons"],
    "backends": ["default"],
    "seeds": 1,
    "data": {"n_samples": 40},
    "params": {"dressed": {"n_qubits": 2, "max_epochs": 1}},
}


def _config(**changes):
    raw = json.loads(json.dumps(SMALL))
    for key, value in changes.items():
        if key == "params":
            for model, params in value.items():
                raw["params"].setdefault(model, {}).update(params)
        else:
            raw[key] = value
    return parse_config(raw)


@pytest.fixture
def no_cells(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cell ran before the experiment was checked")

    monkeypatch.setattr(runner, "run_cell", refuse)


@pytest.mark.parametrize(
    "changes, pattern",
    [
        (
            {"params": {"svc": {"C": -1.0}}},
            r"^experiment 'small': params\.svc\.C = -1\.0 fails for model 'svc' on data set 'moons' \(cpu\): "
            r"The 'C' parameter of SVC must be a float in the range \(0\.0, inf\]",
        ),
        (
            {"params": {"dressed": {"n_qubits": 40}}},
            r"^experiment 'small': params\.dressed\.n_qubits = 40 fails for model 'dressed' on data set 'moons' "
            r"\(default\): ",
        ),
        (
            {"params": {"dressed": {"ansatz": "zigzag"}}},
            r"^experiment 'small': params\.dressed\.ansatz = \"zigzag\" fails .*unknown ansatz 'zigzag'",
        ),
        (
            {"data": {"n_samples": 1}},
            r"^experiment 'small': data\.n_samples = 1 does not work for data set 'moons': .*must be in 4..10000000",
        ),
    ],
    ids=["svc-C", "n_qubits-40", "ansatz", "n_samples"],
)
def test_runner_checks_its_experiment_before_any_cell(no_cells, tmp_path, changes, pattern):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=pattern):
        Runner(_config(**changes), out, progress=False).run()
    assert not out.exists()  # not even the folder


def test_runner_names_a_variant_table(no_cells, tmp_path):
    config = parse_config(
        {
            "models": ["wide"],
            "datasets": ["moons"],
            "backends": ["default"],
            "variants": {"wide": {"model": "vqc", "n_qubits": 41}},
        }
    )
    with pytest.raises(ValueError, match=r"variants\.wide\.n_qubits = 41 fails .*at most 40"):
        Runner(config, tmp_path / "out", progress=False).run()


def test_runner_checks_its_folder_and_options(no_cells, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match=rf"^out_dir {str(afile)!r}: exists and is not a folder$"):
        Runner(_config(), afile, progress=False).run()
    with pytest.raises(ValueError, match="is a file, so the folder cannot be created"):
        Runner(_config(), afile / "sub", progress=False).run()
    with pytest.raises(ValueError, match=r"^threads must be >= 1, got 0$"):
        Runner(_config(), tmp_path, threads=0)
    with pytest.raises(TypeError, match=r"^threads must be an integer >= 1 or None, got 1\.5$"):
        Runner(_config(), tmp_path, threads=1.5)
    with pytest.raises(TypeError, match=r"^progress must be True or False, got str 'no'$"):
        Runner(_config(), tmp_path, progress="no")
    with pytest.raises(TypeError, match=r"^out_dir must be a path \(str or os.PathLike\), got int$"):
        Runner(_config(), 3)


def test_runner_validates_once_and_can_be_told_not_to(tmp_path, monkeypatch):
    calls = []
    real = validation.check_experiment
    monkeypatch.setattr(validation, "check_experiment", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    config = parse_config({"models": ["logreg"], "datasets": ["iris"], "seeds": 1})
    (record,) = Runner(config, tmp_path / "a", progress=False).run()
    assert record["status"] == "ok" and calls == [config]
    Runner(config, tmp_path / "b", progress=False, validate=False).run()
    assert len(calls) == 1


def test_compare_checks_the_experiment_once_with_the_files_lines(capsys, tmp_path, monkeypatch):
    calls = []
    real = validation.check_experiment
    monkeypatch.setattr(
        validation, "check_experiment", lambda *a, **k: calls.append(k.get("source")) or real(*a, **k)
    )
    toml = tmp_path / "exp.toml"
    toml.write_text('models = ["logreg"]\ndatasets = ["iris"]\nseeds = 1\n')
    out = tmp_path / "out"
    assert main(["compare", "--config", str(toml), "--out", str(out), "--no-progress", "--no-plots"]) == 0
    assert calls == [str(toml)]  # build_config's check only, not the runner's again
    toml.write_text('models = ["svc"]\ndatasets = ["iris"]\nseeds = 1\n[params.svc]\nC = -1.0\n')
    assert main(["compare", "--config", str(toml), "--out", str(out)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"qhybrid: error: {toml}:5: params.svc.C = -1.0 fails"), last


# ------------------------------------------------------------------------------------------- report


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "qhybrid.hybrid.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _record(key, status, **more):
    model, dataset, platform, seed = key.split("|")
    record = {"key": key, "status": status, "model": model, "dataset": dataset}
    record.update(platform=platform, seed=int(seed), family="classical", **more)
    if status == "ok":
        record.update(test_accuracy=0.9, train_accuracy=1.0, fit_seconds=0.1, versions={"python": "3"})
    else:
        record["error"] = "RuntimeError: stats exploded"
    return json.dumps(record)


def _folder(tmp_path, records, cell_keys=None):
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(r + "\n" for r in records))
    if cell_keys is not None:
        (folder / "experiment.json").write_text(json.dumps({"name": "x", "cell_keys": cell_keys}))
    return folder


def test_report_exits_1_on_failed_cells_after_the_table(tmp_path):
    keys = ["logreg|iris|cpu|0", "svc|iris|cpu|0", "svc|iris|cpu|1"]
    folder = _folder(
        tmp_path, [_record(keys[0], "ok"), _record(keys[1], "error"), _record(keys[2], "ok")], keys
    )
    result = run_cli("report", folder, "--no-plots")
    assert result.returncode == compare_cmd.EXIT_CELLS_FAILED == 1, result.stderr
    assert "test acc" in result.stdout and "logreg" in result.stdout  # the table is printed
    assert "written: " in result.stdout and (folder / "summary.md").exists()
    err = result.stderr.strip().splitlines()
    assert "FAILED svc on iris (cpu, seed 0): RuntimeError: stats exploded" in err
    assert err[-1] == (
        f'qhybrid: 1 of 3 cells failed; their records (status "error") are in {folder / "results.jsonl"}'
    )
    assert "Traceback" not in result.stderr


def test_report_exits_0_when_a_failed_cell_was_retried(tmp_path):
    keys = ["logreg|iris|cpu|0"]
    folder = _folder(tmp_path, [_record(keys[0], "error"), _record(keys[0], "ok")], keys)
    result = run_cli("report", folder, "--no-plots")
    assert result.returncode == 0, result.stderr
    assert "cells failed" not in result.stderr and "FAILED" not in result.stderr


def test_report_counts_failures_of_the_current_experiment_only(capsys, tmp_path):
    # an old failure from earlier settings is not this experiment's; without experiment.json every
    # cell with a record counts
    current = ["svc|iris|cpu|0", "svc|iris|cpu|1"]
    folder = _folder(
        tmp_path,
        [_record("svc|iris|cpu|9", "error"), _record(current[0], "ok"), _record(current[1], "error")],
        current,
    )
    assert main(["report", str(folder), "--no-plots"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("qhybrid: 1 of 2 cells failed;")
    (folder / "experiment.json").unlink()
    assert main(["report", str(folder), "--no-plots"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("qhybrid: 2 of 3 cells failed;")


def test_report_of_records_without_versions_does_not_crash(capsys, tmp_path):
    record = json.loads(_record("svc|iris|cpu|0", "ok"))
    del record["versions"]
    folder = _folder(tmp_path, [json.dumps(record)])
    assert main(["report", str(folder), "--no-plots"]) == 0


@pytest.mark.parametrize("command", ["compare", "report"])
def test_help_documents_the_exit_statuses(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "exit status:" in out
    assert "\n  0    " in out and "\n  1    some cells failed" in out and "\n  2    bad input" in out
    assert ("\n  130  interrupted" in out) == (command == "compare")


@pytest.mark.parametrize("name", ["mlp", "iqp-kernel", "dressed"])
def test_tensors_that_require_grad_are_data_too(name):
    import torch

    from qhybrid.hybrid.models import make_model

    kwargs = {} if name == "iqp-kernel" else {"max_epochs": 1}
    X = torch.rand(12, 2, requires_grad=True)
    model = make_model(name, random_state=0, **kwargs).fit(X, torch.tensor([0, 1] * 6))
    assert model.predict(torch.rand(3, 2, requires_grad=True)).shape == (3,)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and ps --ppid")
def test_pool_workers_exit_when_the_command_is_killed(tmp_path):
    """``kill -9`` of ``qhybrid compare --jobs 2`` left its workers and the resource tracker running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "exp.toml"
    # cells far longer than the test, whatever the machine: the run is killed while they train
    config.write_text(
        'models = ["mlp"]\ndatasets = ["moons"]\nseeds = 4\n[params.mlp]\nmax_epochs = 100000\n'
    )
    argv = [
        sys.executable,
        "-m",
        "qhybrid",
        "compare",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "out"),
    ]
    parent = subprocess.Popen(
        [*argv, "--jobs", "2", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def children() -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    deadline = time.monotonic() + 120
    while len(kids := children()) < 3 and time.monotonic() < deadline:  # 2 workers + the resource tracker
        time.sleep(0.5)
    assert len(kids) >= 2, kids
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    def running(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 30
    while any(running(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [k for k in kids if running(k)]
    for pid in left:  # do not leave them to the next test if the fix regressed
        os.kill(pid, signal.SIGKILL)
    assert not left


def test_a_worker_killed_mid_cell_stops_the_run_with_the_resume_hint(capsys, tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    from qhybrid.hybrid import executors

    def broken(*args, **kwargs):
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")
        yield  # a generator, as the real one

    monkeypatch.setattr(executors, "results_as_completed", broken)
    config = tmp_path / "exp.toml"
    config.write_text('models = ["logreg"]\ndatasets = ["iris"]\nseeds = 2\n')
    code = main(
        ["compare", "--config", str(config), "--out", str(tmp_path / "out"), "--jobs", "2", "--no-progress"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("qhybrid: error: a worker process died while running cells")
    assert err[-1].endswith("rerun the same command to resume")


def test_a_worker_that_starts_after_the_command_died_exits_at_once():
    """A worker still importing when ``kill -9`` came used to take its adopter for its parent and stay."""
    import subprocess
    import sys

    code = (
        "import os, time\n"
        "from qhybrid.hybrid.executors import _one_thread_each\n"
        "_one_thread_each(os.getppid() + 1_000_000)\n"  # a pid that is not this process's parent
        "time.sleep(30)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=25, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
