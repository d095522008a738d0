"""Lightning's Trainer arguments: devices, max_time, fast_dev_run, deterministic, enable_progress_bar and
logger, each with Lightning's meaning, and each bad value refused with an error naming it."""

import datetime
import importlib.util
import io
import json
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from qhybrid.classical import accelerators as acc_mod
from qhybrid.classical.models import MLP
from qhybrid.classical.training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LRMonitor,
    ModelCheckpoint,
    ProgressBar,
    TensorBoardLogger,
    Timer,
    Trainer,
)
from qhybrid.classical.training import timer as timer_mod
from qhybrid.classical.training.timer import parse_duration

RNG = np.random.default_rng(0)
X = RNG.normal(size=(640, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)
N_BATCHES = 640 // 16


def _mlp():
    torch.manual_seed(0)
    return MLP(3, 2, (8,))


def _fit(trainer, val=True, **kwargs):
    return trainer.fit(_mlp(), (X, Y), (X[:64], Y[:64]) if val else None, **kwargs)


# ------------------------------------------------------------------------------------ devices


@pytest.mark.parametrize("devices", [1, "1", "auto", [0], (0,), "0,"])
def test_devices_that_mean_one_cpu(devices):
    tr = Trainer(max_steps=1, batch_size=16, devices=devices, accelerator="cpu")
    assert tr.accelerator.kind == "cpu" and _fit(tr).global_step == 1


@pytest.mark.parametrize(
    "devices, exc, match",
    [
        (2, ValueError, r"devices=2 needs 2 processes.*torchrun --nproc-per-node 2 script.py"),
        ("0,1", ValueError, r"devices=\[0, 1\] needs 2 processes.*launch\(fn, nprocs=2\)"),
        (0, ValueError, r"devices must be a number of devices >= 1, a list of device indices, -1 .*got 0"),
        (-2, ValueError, r"devices must be .*got -2"),
        ("two", ValueError, r"devices must be .*'auto', got 'two'"),
        (1.5, TypeError, r"devices must be .*got 1.5"),
        ([True], TypeError, r"device indices must be integers, got bool True"),
        ([], ValueError, r"the list of device indices is empty"),
        ([0, 0], ValueError, r"distinct integers >= 0, got \[0, 0\]"),
        ([1], ValueError, r"devices=\[1\]: cpu has one device, index 0"),
        (-1, ValueError, r"devices=-1 \(every device\) is for GPUs; on cpu pass 1 or 'auto'"),
    ],
)
def test_bad_devices_on_cpu(devices, exc, match):
    with pytest.raises(exc, match=match):
        Trainer(devices=devices, accelerator="cpu")


def test_devices_pick_a_gpu_by_index(monkeypatch):
    # Construction only resolves torch.device objects: two GPUs can be faked without CUDA.
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 2)
    assert Trainer(accelerator="cuda", devices=[1]).accelerator.device == torch.device("cuda", 1)
    assert Trainer(accelerator="cuda:1", devices="1,").accelerator.device == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"accelerator 'cuda:0' and devices=\[1\] name different GPUs"):
        Trainer(accelerator="cuda:0", devices=[1])
    with pytest.raises(ValueError, match=r"devices=\[5\]: no CUDA device 5; this machine has 2"):
        Trainer(accelerator="cuda", devices=[5])
    with pytest.raises(ValueError, match=r"devices=3 asks for 3 CUDA devices; this machine has 2"):
        Trainer(accelerator="cuda", devices=3)
    with pytest.raises(ValueError, match=r"devices=-1 needs 2 processes"):
        Trainer(accelerator="cuda", devices=-1)
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 1)
    assert Trainer(accelerator="cuda", devices=-1).accelerator.device == torch.device("cuda", 0)


def test_devices_under_torchrun_must_match_the_launch(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    for ok in (2, "2", "auto", -1):
        assert Trainer(devices=ok, accelerator="cpu").devices == (ok if ok == "auto" else int(ok))
    with pytest.raises(ValueError, match=r"devices=1 does not match this launch: it started 2 process\(es\)"):
        Trainer(devices=1, accelerator="cpu")


# ------------------------------------------------------------------------------------ max_time


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("00:00:01:30", 90),
        ("01:02:00:00", 26 * 3600),
        (datetime.timedelta(minutes=2), 120),
        ({"hours": 1, "minutes": 1}, 3660),
    ],
)
def test_max_time_forms(value, seconds):
    assert parse_duration(value).total_seconds() == seconds
    assert Trainer(max_time=value).max_time == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "value, exc, match",
    [
        ("1:30", ValueError, r"max_time must be 'DD:HH:MM:SS', a datetime.timedelta or a dict .*got '1:30'"),
        ("00:00:aa:00", ValueError, r"got '00:00:aa:00'"),
        (60, TypeError, r"max_time must be 'DD:HH:MM:SS'.*got 60"),
        ({"mins": 1}, ValueError, r"max_time: \{'mins': 1\} is not a set of timedelta arguments"),
        ("00:00:00:00", ValueError, r"max_time must be a positive duration, got '00:00:00:00'"),
        (datetime.timedelta(seconds=-1), ValueError, r"max_time must be a positive duration"),
    ],
)
def test_bad_max_time(value, exc, match):
    with pytest.raises(exc, match=match):
        Trainer(max_time=value)


class _Clock(Callback):
    """A fake clock for the Timer: every optimiser step takes exactly one second."""

    def __init__(self, monkeypatch):
        self.now = 0.0
        monkeypatch.setattr(timer_mod, "time", types.SimpleNamespace(monotonic=lambda: self.now))

    def on_after_optimizer_step(self, trainer, model, optimizer):
        self.now += 1.0


def test_max_time_stops_after_the_step_that_exceeds_it_and_resumes_counting(monkeypatch, tmp_path):
    clock = _Clock(monkeypatch)
    kw = dict(max_epochs=10, batch_size=16, accelerator="cpu")
    tr = Trainer(max_time={"seconds": 5}, callbacks=[clock, ModelCheckpoint(tmp_path)], **kw)
    _fit(tr)
    # stopped inside the first epoch, which still ends cleanly: metrics, validation, checkpoint
    assert tr.global_step == 5 < N_BATCHES and len(tr.history) == 1 and "val_acc" in tr.history[0]
    assert tr.should_stop and tr.stop_reason.startswith("max_time 0:00:05 reached after 5.0 s (step 5)")
    saved = Trainer.load_checkpoint(tmp_path / "last.pt")
    assert saved["callbacks"]["Timer"] == {"time_elapsed": 5.0}
    # resumed with 8 s in all: the 5 s already spent count, so 3 more steps
    again = Trainer(max_time="00:00:00:08", callbacks=[_Clock(monkeypatch)], **kw)
    _fit(again, resume_from=tmp_path / "last.pt")
    assert again.global_step == 8 and [h["epoch"] for h in again.history] == [1, 2]
    # a further fit on the same trainer gets the whole duration again
    _fit(again)
    assert again.global_step == 8


def test_max_time_real_clock_and_one_timer_only():
    tr = _fit(Trainer(max_epochs=3, batch_size=16, max_time={"microseconds": 1}, accelerator="cpu"))
    assert tr.global_step == 1 and len(tr.history) == 1
    with pytest.raises(ValueError, match="max_time is given and callbacks hold a Timer: use one of them"):
        Trainer(max_time="00:00:01:00", callbacks=[Timer("00:00:02:00")])


# ------------------------------------------------------------------------------------ fast_dev_run


class _Forwards(Callback):
    def __init__(self):
        self.train = self.eval = 0

    def on_fit_start(self, trainer, model):
        def count(module, args):
            if module.training:
                self.train += 1
            else:
                self.eval += 1

        model.register_forward_pre_hook(count)


@pytest.mark.parametrize("value, batches", [(True, 1), (3, 3)])
def test_fast_dev_run_runs_n_batches_and_writes_nothing(tmp_path, value, batches):
    fw, lrmon = _Forwards(), LRMonitor()
    callbacks = [fw, lrmon, EarlyStopping("val_loss", patience=0), ModelCheckpoint(tmp_path / "ck")]
    tr = Trainer(
        max_epochs=5,
        batch_size=16,
        accumulate_grad_batches=2,
        fast_dev_run=value,
        log_dir=tmp_path / "logs",
        callbacks=callbacks,
        accelerator="cpu",
    )
    _fit(tr)
    assert (fw.train, fw.eval) == (batches, batches) and tr.max_epochs == 1 and len(tr.history) == 1
    assert tr.global_step == -(-batches // 2) and tr.num_training_batches == batches
    assert not (tmp_path / "ck").exists() and not (tmp_path / "logs").exists() and lrmon.lrs == []
    assert tr.predict(tr.model, X).shape == (16 * batches, 2)
    assert tr.evaluate(tr.model, (X, Y))["loss"] > 0


@pytest.mark.parametrize(
    "value, exc, match",
    [
        (-1, ValueError, r"fast_dev_run must be True, False or a number of batches >= 0, got -1"),
        ("yes", TypeError, r"fast_dev_run must be .*got str 'yes'"),
        (1.5, TypeError, r"fast_dev_run must be .*got 1.5"),
    ],
)
def test_bad_fast_dev_run(value, exc, match):
    with pytest.raises(exc, match=match):
        Trainer(fast_dev_run=value)


# ------------------------------------------------------------------------------------ deterministic


class _Puts(nn.Module):
    """A model using Tensor.put_, which has no deterministic implementation."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x):
        torch.zeros(2).put_(torch.tensor([0]), torch.ones(1))
        return self.lin(x)


def test_deterministic_true_raises_warn_warns_and_settings_are_restored():
    data = (X[:32], Y[:32])
    before = torch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError, match="put_ does not have a deterministic implementation"):
        Trainer(max_steps=1, deterministic=True, accelerator="cpu").fit(_Puts(), data)
    assert torch.are_deterministic_algorithms_enabled() == before
    with pytest.warns(UserWarning, match="put_ does not have a deterministic implementation"):
        tr = Trainer(max_steps=1, deterministic="warn", accelerator="cpu").fit(_Puts(), data)
    assert tr.global_step == 1 and torch.are_deterministic_algorithms_enabled() == before
    Trainer(max_steps=1, accelerator="cpu").fit(_Puts(), data)  # None: torch's default, no complaint


def test_deterministic_settings_hold_during_fit():
    seen = {}

    class Probe(Callback):
        def on_fit_start(self, trainer, model):
            seen["algorithms"] = torch.are_deterministic_algorithms_enabled()
            seen["cudnn"] = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)

    a = _fit(Trainer(max_epochs=2, batch_size=16, deterministic=True, callbacks=[Probe()], accelerator="cpu"))
    assert seen == {"algorithms": True, "cudnn": (True, False)}
    assert not torch.are_deterministic_algorithms_enabled()
    b = _fit(Trainer(max_epochs=2, batch_size=16, accelerator="cpu"))
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))
    with pytest.raises(ValueError, match=r"deterministic must be True, False, 'warn' or None, got 'yes'"):
        Trainer(deterministic="yes")
    with pytest.raises(ValueError, match=r"deterministic must be .*got 1"):
        Trainer(deterministic=1)


# ------------------------------------------------------------------------------------ progress bar


def _bars(trainer):
    return [cb for cb in trainer.callbacks if isinstance(cb, ProgressBar)]


def test_enable_progress_bar(monkeypatch):
    assert _bars(Trainer()) == []  # None, and pytest's stdout is not a terminal
    assert len(_bars(Trainer(enable_progress_bar=True))) == 1
    mine = ProgressBar(refresh_rate=3, file=io.StringIO())
    assert _bars(Trainer(enable_progress_bar=True, callbacks=[mine])) == [mine]
    assert _bars(Trainer(callbacks=[mine])) == [mine]
    assert _bars(Trainer(enable_progress_bar=False)) == []
    with pytest.raises(ValueError, match="enable_progress_bar=False, but callbacks hold a ProgressBar"):
        Trainer(enable_progress_bar=False, callbacks=[mine])
    with pytest.raises(TypeError, match="enable_progress_bar must be True or False, got str 'yes'"):
        Trainer(enable_progress_bar="yes")
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(isatty=lambda: True))
    tr = Trainer()
    assert len(_bars(tr)) == 1 and tr.enable_progress_bar is True


# ------------------------------------------------------------------------------------ logger


def test_logger_values(tmp_path):
    tr = _fit(Trainer(max_epochs=2, batch_size=16, log_dir=tmp_path / "default", accelerator="cpu"))
    assert [type(lg).__name__ for lg in tr.loggers][:1] == ["CSVLogger"]
    assert len((tmp_path / "default" / "metrics.csv").read_text().splitlines()) == 3
    off = _fit(
        Trainer(max_epochs=1, batch_size=16, log_dir=tmp_path / "off", logger=False, accelerator="cpu")
    )
    assert off.loggers == [] and not (tmp_path / "off").exists()
    a, b = CSVLogger(tmp_path / "a"), CSVLogger(tmp_path / "b")
    mine = _fit(
        Trainer(max_epochs=2, batch_size=16, log_dir=tmp_path / "unused", logger=[a, b], accelerator="cpu")
    )
    assert mine.loggers == [a, b] and not (tmp_path / "unused").exists()
    for folder in ("a", "b"):
        js = json.loads((tmp_path / folder / "metrics.json").read_text())
        assert [row["epoch"] for row in js["epochs"]] == [1, 2] and js["hparams"]["batch_size"] == 16
    assert Trainer(logger=a).loggers == [a]


def test_bad_logger_values(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"logger=True writes CSV/JSON .* to log_dir: pass log_dir="):
        Trainer(logger=True)
    with pytest.raises(TypeError, match=r"logger must be True, False, None, a Logger .*got str 'csv'"):
        Trainer(logger="csv")
    with pytest.raises(TypeError, match=r"logger must be .*got 3"):
        Trainer(logger=[CSVLogger(tmp_path), 3])
    with pytest.raises(TypeError, match=r"CSVLogger save_dir must be a path, got 3"):
        CSVLogger(3)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=r"CSVLogger save_dir '.*file': exists and is not a folder"):
        _fit(Trainer(max_epochs=1, logger=CSVLogger(blocker), accelerator="cpu"))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a)
    )
    with pytest.raises(
        ValueError,
        match=r"TensorBoardLogger needs tensorboard, which is not installed: pip install 'qhybrid\[tensorboard\]'",
    ):
        TensorBoardLogger(tmp_path)


def test_one_callback_is_taken_as_lightning_takes_it(tmp_path):
    from qhybrid.classical.training.callbacks import ModelCheckpoint

    checkpoint = ModelCheckpoint(tmp_path)
    assert checkpoint in Trainer(callbacks=checkpoint, enable_progress_bar=False).callbacks
