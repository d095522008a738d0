"""Tests for hybrid.runner, hybrid.report and hybrid.compare_cmd: records, resume after a kill, reports."""

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import matplotlib.image
import numpy as np
import pytest
import torch

from qhybrid._waiting import WAITING
from qhybrid.hybrid import compare_cmd
from qhybrid.hybrid.config import parse_config
from qhybrid.hybrid.report import format_table, render_report, summarize
from qhybrid.hybrid.runner import Runner, grid, read_results, run_cell

TINY = {
    "name": "tiny",
    "models": ["logreg", "mlp", "dressed"],
    "datasets": ["moons"],
    "backends": ["default"],
    "seeds": 2,
    "data": {"n_samples": 80},
    "params": {
        "mlp": {"hidden": [8], "max_epochs": 5},
        "dressed": {"n_qubits": 2, "n_layers": 1, "max_epochs": 2},
    },
}


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    """run_cell sets torch's threads and OMP_NUM_THREADS to 1 in this process; later test files get them
    back."""
    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    cfg = parse_config(TINY)
    new = Runner(cfg, out, progress=False).run()
    return cfg, out, new


def test_records_hold_everything_the_report_needs(tiny_run):
    cfg, out, new = tiny_run
    assert len(new) == len(grid(cfg)) == 6
    records = read_results(out)
    assert [r["key"] for r in records] == [r["key"] for r in new]
    for r in records:
        assert r["status"] == "ok", r.get("error")
        for key in (
            "train_accuracy",
            "test_accuracy",
            "fit_seconds",
            "inference_samples_per_s",
            "inference_latency_ms",
            "n_params",
            "circuit_executions",
            "n_qubits",
            "versions",
            "params",
        ):
            assert r[key] is not None, key
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["fit_seconds"] > 0
        assert r["n_train"] == 60 and r["n_test"] == 20
        assert r["versions"]["torch"] and r["versions"]["pennylane"]
    dressed = [r for r in records if r["model"] == "dressed"]
    assert {r["platform"] for r in dressed} == {"default"}
    assert all(r["n_qubits"] == 2 and r["circuit_executions"] > 0 for r in dressed)
    # the exact configuration: every constructor argument of the estimator, defaults included
    assert dressed[0]["estimator_params"]["backend"] == "default"
    assert dressed[0]["estimator_params"]["n_layers"] == 1 and dressed[0]["estimator_params"]["lr"] == 0.05
    logreg = [r for r in records if r["model"] == "logreg"]
    assert all(r["n_params"] == 3 and r["n_qubits"] == 0 for r in logreg)
    # the result of a cell is a function of its settings and seed
    again = run_cell(grid(cfg)[0], cfg)
    assert again["test_accuracy"] == records[0]["test_accuracy"]


def test_rerun_skips_finished_cells(tiny_run):
    cfg, out, _ = tiny_run
    before = (out / "results.jsonl").read_text()
    assert Runner(cfg, out, progress=False).run() == []
    assert (out / "results.jsonl").read_text() == before
    # a changed setting changes the fingerprint: only those cells run again
    changed = parse_config({**TINY, "params": {**TINY["params"], "mlp": {"hidden": [8], "max_epochs": 6}}})
    assert {c.model for c in Runner(changed, out, progress=False).pending()} == {"mlp"}


def test_report_files_and_values(tiny_run):
    _, out, _ = tiny_run
    report = render_report(out)
    names = sorted(p.name for p in report["files"])
    assert names == ["accuracy_vs_fit_time.png", "summary.csv", "summary.md", "throughput_vs_qubits.png"]
    # the PNGs decode and are at least their figures' size (inches x 120 dpi; saved with a tight box that
    # grows to hold the legends, so the exact size follows the machine's fonts and is not checked)
    for png, (height, width) in (
        ("accuracy_vs_fit_time.png", (400, 600)),
        ("throughput_vs_qubits.png", (400, 600)),
    ):
        image = matplotlib.image.imread(out / png)
        assert image.shape[0] >= height and image.shape[1] >= width and image.shape[2] in (3, 4)
        assert image.std() > 0  # something was drawn
    records = read_results(out)
    row = next(r for r in report["rows"] if r["model"] == "mlp")
    accs = [r["test_accuracy"] for r in records if r["model"] == "mlp"]
    assert row["test_accuracy_mean"] == pytest.approx(np.mean(accs))
    assert row["test_accuracy_std"] == pytest.approx(np.std(accs, ddof=1))
    md = (out / "summary.md").read_text()
    cells = [
        [c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("|")
    ]
    assert ["moons", "dressed", "default", "2"] in [c[:4] for c in cells]
    assert "![accuracy_vs_fit_time](accuracy_vs_fit_time.png)" in md
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith(
        "dataset,model,family,platform,n_seeds,test_accuracy_mean,test_accuracy_std"
    )
    assert len(csv_lines) == 4
    assert "mlp" in report["table"] and "±" in report["table"]


def test_summary_and_table_from_records():
    recs = [
        {
            "key": f"k{s}",
            "dataset": "d",
            "model": "m",
            "platform": "cpu",
            "family": "classical",
            "seed": s,
            "status": "ok",
            "test_accuracy": acc,
            "fit_seconds": 1.0 + s,
        }
        for s, acc in enumerate([0.5, 0.7, 0.9])
    ]
    recs.append({"key": "k9", "dataset": "d", "model": "m", "platform": "cpu", "seed": 9, "status": "error"})
    (row,) = summarize(recs)
    assert row["n_seeds"] == 3
    assert row["test_accuracy_mean"] == pytest.approx(0.7) and row["test_accuracy_std"] == pytest.approx(0.2)
    assert row["n_params_mean"] is None
    assert "0.700 ± 0.200" in format_table([row]) and "n/a" in format_table([row])


def test_truncated_last_line_is_ignored_and_repaired(tmp_path):
    cfg = parse_config({**TINY, "models": ["logreg"]})
    Runner(cfg, tmp_path, progress=False).run()
    path = tmp_path / "results.jsonl"
    good = path.read_text()
    path.write_text(good + '{"key": "logreg|moons|cpu|7|x", "status": "o')  # killed mid-write
    assert len(read_results(tmp_path)) == 2
    cfg3 = parse_config({**TINY, "models": ["logreg"], "seeds": 3})
    Runner(cfg3, tmp_path, progress=False).run()
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(ValueError, match=r"results.jsonl:1: not a JSON record"):
        read_results(tmp_path)


def test_executor_interface_runs_cells(tmp_path):
    cfg = parse_config({**TINY, "models": ["logreg", "svc"]})
    with ThreadPoolExecutor(2) as pool:
        new = Runner(cfg, tmp_path, executor=pool, progress=False, threads=None).run()
    assert sorted(r["key"] for r in new) == sorted(c.key for c in grid(cfg))


def test_failed_cell_is_recorded_and_retried(tmp_path, monkeypatch):
    cfg = parse_config({**TINY, "models": ["logreg"], "seeds": 1})
    from qhybrid.classical import data as classical_data

    def broken(*args, **kwargs):
        raise ValueError("disk on fire")

    monkeypatch.setattr(classical_data, "load_dataset", broken)
    # validate=False: the runner's own check loads the data set too, and would stop the run before the cell
    (rec,) = Runner(cfg, tmp_path, progress=False, validate=False).run()
    assert rec["status"] == "error" and rec["error"] == "ValueError: disk on fire"
    monkeypatch.undo()
    (rec,) = Runner(cfg, tmp_path, progress=False).run()
    assert rec["status"] == "ok"
    report = render_report(tmp_path, plots=False)
    assert report["errors"] == [] and report["rows"][0]["n_seeds"] == 1


_KILL_CONFIG = {
    "name": "kill",
    "models": ["logreg"],
    "datasets": ["moons"],
    "seeds": 5,
    "data": {"n_samples": 80},
}

# The child runs the experiment and kills itself with SIGKILL halfway through writing its third record: a
# kill at a known point instead of a parent polling the file and racing the child.
_CHILD = textwrap.dedent(
    f"""
    import os, signal, sys
    from qhybrid.hybrid import runner
    from qhybrid.hybrid.config import parse_config

    written = []
    def append_then_die(path, record):
        if len(written) == 2:
            with open(path, "a") as fh:
                fh.write('{{"key": "' + record["key"])  # half a line, never finished
                fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        real_append(path, record)
        written.append(record["key"])

    real_append, runner.append_record = runner.append_record, append_then_die
    runner.Runner(parse_config({_KILL_CONFIG!r}), sys.argv[1], progress=False).run()
    """
)


def test_resume_after_kill_recomputes_nothing(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, **WAITING}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out)], env=env, timeout=300, capture_output=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    path = out / "results.jsonl"
    assert not path.read_text().endswith("\n")  # the kill left a cut-off last line
    first = read_results(out)  # the file parses after the kill
    assert len(first) == 2

    cfg = parse_config(_KILL_CONFIG)
    new = Runner(cfg, out, progress=False).run()
    done = {r["key"] for r in first}
    assert len(new) == 3 and all(r["key"] not in done for r in new)  # nothing finished was recomputed
    lines = path.read_text().splitlines()
    final = [json.loads(line) for line in lines]  # every line is a whole record
    assert [r["key"] for r in final[: len(first)]] == [r["key"] for r in first]
    assert sorted(r["key"] for r in final) == sorted(c.key for c in grid(cfg))


def _args(**kw):
    parser = argparse.ArgumentParser()
    compare_cmd.add_arguments(parser)
    argv = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag] if v is True else [flag, str(v)]
    return parser.parse_args(argv)


def test_compare_command_with_config_and_overrides(tmp_path, capsys):
    toml = tmp_path / "exp.toml"
    toml.write_text('name = "cmd"\nmodels = ["logreg", "svc"]\ndatasets = ["iris"]\nseeds = 3\n')
    out = tmp_path / "out"
    args = _args(config=toml, out=out, models="logreg", seeds=2, no_progress=True, no_plots=True)
    assert compare_cmd.run(args) == 0
    printed = capsys.readouterr().out
    assert "logreg" in printed and "svc" not in printed and "summary.md" in printed
    assert len(read_results(out)) == 2
    report_args = argparse.Namespace(results_dir=str(out), no_plots=True)
    assert compare_cmd.report_main(report_args) == 0
    assert "logreg" in capsys.readouterr().out


def test_compare_command_defaults_and_errors(tmp_path):
    cfg = compare_cmd.build_config(_args())
    assert cfg.name == "default" and cfg.models == ["mlp", "dressed"]
    with pytest.raises(ValueError, match="unknown model 'qnn'"):
        compare_cmd.build_config(_args(models="mlp,qnn"))
    with pytest.raises(ValueError, match="--seeds must be >= 1"):
        compare_cmd.build_config(_args(seeds=0))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compare_cmd.report_main(argparse.Namespace(results_dir=str(tmp_path / "nope"), no_plots=True))
    with pytest.raises(ValueError, match="holds no results"):
        compare_cmd.report_main(argparse.Namespace(results_dir=str(tmp_path), no_plots=True))


@pytest.mark.parametrize("method", ["grid", "random"])
def test_hyperparameter_search_on_train_only(tmp_path, method):
    cfg = parse_config(
        {
            **TINY,
            "models": ["svc"],
            "seeds": 1,
            "search": {"method": method, "cv": 3, "n_iter": 2, "space": {"svc": {"C": [1e-4, 10.0]}}},
        }
    )
    (rec,) = Runner(cfg, tmp_path, progress=False).run()
    assert rec["status"] == "ok", rec.get("error")
    # a tiny C over-regularises the RBF machine: cross-validation on the training part must reject it
    assert rec["best_params"] == {"C": 10.0}
    assert 0.5 < rec["cv_score"] <= 1.0 and rec["search_seconds"] > 0
    assert rec["search"]["method"] == method


def test_second_runner_on_same_folder_is_refused(tmp_path):
    import fcntl

    from qhybrid.hybrid.runner import OutputBusyError

    cfg = parse_config({**TINY, "models": ["logreg"], "seeds": 1})
    with open(tmp_path / ".runner.lock", "a+") as held:
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputBusyError, match=r"another run \(pid 4242\) is writing to"):
            Runner(cfg, tmp_path, progress=False).run()
    assert len(Runner(cfg, tmp_path, progress=False).run()) == 1  # free again once released


def test_report_leaves_out_results_of_earlier_settings(tmp_path):
    old = parse_config({**TINY, "models": ["logreg"], "seeds": 3})
    Runner(old, tmp_path, progress=False).run()
    new = parse_config({**TINY, "models": ["logreg"], "seeds": 2, "params": {"logreg": {"C": 0.5}}})
    Runner(new, tmp_path, progress=False).run()
    assert len(read_results(tmp_path)) == 5
    report = render_report(tmp_path, plots=False)
    assert [r["n_seeds"] for r in report["rows"]] == [2] and report["stale"] == 3
    assert "3 older results" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_process_pool_jobs(tmp_path):
    args = _args(
        models="logreg,mlp",
        datasets="iris,moons",
        seeds=2,
        jobs=2,
        out=tmp_path,
        no_progress=True,
        no_plots=True,
    )
    assert compare_cmd.run(args) == 0
    records = read_results(tmp_path)
    assert len(records) == 8 and all(r["status"] == "ok" for r in records)


@pytest.mark.slow
def test_default_compare_runs_every_cell(tmp_path):
    # how long it takes depends on the machine; what it must do does not
    assert compare_cmd.run(_args(out=tmp_path, no_progress=True)) == 0
    records = read_results(tmp_path)
    assert len(records) == len(grid(compare_cmd.build_config(_args()))) and all(
        r["status"] == "ok" for r in records
    )
    for name in ("summary.md", "summary.csv", "accuracy_vs_fit_time.png", "throughput_vs_qubits.png"):
        assert (tmp_path / name).stat().st_size > 0
