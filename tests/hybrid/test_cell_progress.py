"""Tests for hybrid.cell_progress: a running cell's fit steps reach the runner's bar."""

import json
import os
import threading

import numpy as np
import pytest
import torch

from qhybrid.hybrid import cell_progress
from qhybrid.hybrid.config import parse_config
from qhybrid.hybrid.estimators import MLPClassifier
from qhybrid.hybrid.runner import Runner, grid

KEY = "mlp|moons|cpu|3|abc"


@pytest.fixture(autouse=True)
def _restore_threads():
    """run_cell sets torch's threads and OMP_NUM_THREADS to 1 in this process; later tests get them back."""
    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        yield
    torch.set_num_threads(before)


@pytest.fixture
def writes(monkeypatch):
    """Every payload a fit writes, in order, with no minimum interval between writes."""
    seen = []
    original = cell_progress._write
    monkeypatch.setattr(cell_progress, "INTERVAL_S", 0.0)
    monkeypatch.setattr(cell_progress, "_write", lambda path, p: seen.append((path, p)) or original(path, p))
    return seen


def _data(n=40):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def test_a_fit_in_a_reporting_cell_writes_its_steps_and_the_file_goes_at_the_end(tmp_path, writes):
    X, y = _data()
    model = MLPClassifier(hidden=(4,), max_epochs=3, batch_size=10, max_steps=10, random_state=0)
    with cell_progress.reporting(tmp_path, KEY):
        model.fit(X, y)
        files = list(tmp_path.glob("*.json"))
        assert len(files) == 1 and json.loads(files[0].read_text()) == {
            "key": KEY,
            "step": 10,
            "max_steps": 10,
        }
    steps = [p["step"] for _, p in writes]
    assert steps == list(range(1, 11)) and {p["key"] for _, p in writes} == {KEY}
    assert model.n_steps_ == 10 and list(tmp_path.glob("*")) == []


def test_a_fixed_budget_reports_its_total_and_outside_a_cell_a_fit_writes_nothing(tmp_path, writes):
    X, y = _data()
    MLPClassifier(hidden=(4,), max_epochs=2, batch_size=10, random_state=0).fit(X, y)
    assert cell_progress.step_reporter() is None and writes == []
    with cell_progress.reporting(tmp_path, KEY):  # a fixed budget: its epochs' batches, 3 x 4
        MLPClassifier(hidden=(4,), max_epochs=3, batch_size=10, random_state=0).fit(X, y)
    assert [p["step"] for _, p in writes] == list(range(1, 13)) and writes[-1][1]["max_steps"] == 12
    writes.clear()
    with cell_progress.reporting(tmp_path, KEY), cell_progress.reporting(None, "inner"):
        MLPClassifier(hidden=(4,), max_epochs=2, batch_size=10, random_state=0).fit(X, y)
    assert writes == []


def test_running_fits_reads_each_cell_and_skips_a_file_being_replaced(tmp_path):
    folder = cell_progress.progress_folder(tmp_path)
    folder.mkdir()
    (folder / "a.json").write_text(
        json.dumps({"key": "dressed|qmlb:x|aer|2|f", "step": 2100, "max_steps": 10000})
    )
    (folder / "b.json").write_text(json.dumps({"key": "mlp|moons|cpu|0|f", "step": 7, "max_steps": None}))
    (folder / "c.json").write_text('{"key": "dressed|')  # half written
    (folder / ".x.tmp").write_text("{}")
    assert cell_progress.running_fits(tmp_path) == ["dressed s2: step 2100/10000", "mlp s0: step 7"]
    cell_progress.clear(tmp_path)
    assert list(folder.iterdir()) == []


def test_the_watcher_shows_the_running_fits_until_its_block_ends(tmp_path):
    folder = cell_progress.progress_folder(tmp_path)
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"key": KEY, "step": 5, "max_steps": 9}))
    shown, seen = [], threading.Event()
    with cell_progress.ProgressWatcher(tmp_path, lambda text: shown.append(text) or seen.set(), poll_s=0.01):
        assert seen.wait(5)
    count = len(shown)
    assert shown[0] == "mlp s3: step 5/9"
    threading.Event().wait(0.05)
    assert len(shown) == count  # stopped


def test_the_runner_reports_every_torch_cell_and_clears_a_killed_runs_files(tmp_path, writes):
    cfg = parse_config(
        {
            "name": "p",
            "models": ["svc", "mlp"],
            "datasets": ["moons"],
            "seeds": 2,
            "data": {"n_samples": 60},
            "params": {"mlp": {"hidden": [4], "max_epochs": 2}},
        }
    )
    stale = cell_progress.progress_folder(tmp_path)
    stale.mkdir()
    (stale / "old.json").write_text(json.dumps({"key": "dressed|moons|aer|9|f", "step": 1}))
    records = Runner(cfg, tmp_path, progress=True).run()
    assert all(r["status"] == "ok" for r in records)
    mlp_keys = {c.key for c in grid(cfg) if c.model == "mlp"}
    assert {p["key"] for _, p in writes} == mlp_keys  # svc is not a torch fit: no steps
    assert list(stale.iterdir()) == []
    writes.clear()
    Runner(cfg, tmp_path / "quiet", progress=False).run()
    assert writes == []  # no bar, no files
