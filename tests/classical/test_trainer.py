"""Trainer: learning, determinism, exact resume, precision, accumulation, clipping, optimisers and
schedules, callbacks, logs, bad input, NaN loss, the XLA path (faked) and torch.compile."""

import io
import json
import math
import sys
import types

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from qhybrid.classical import accelerators as acc_mod
from qhybrid.classical.models import GPT, MLP, GPTConfig
from qhybrid.classical.text import CharLMDataset, CharTokenizer, load_corpus
from qhybrid.classical.training import (
    Callback,
    EarlyStopping,
    LRMonitor,
    ModelCheckpoint,
    NonFiniteLossError,
    ProgressBar,
    Trainer,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return (X[:1200], y[:1200]), (X[1200:], y[1200:])


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()])


def _mlp(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return MLP(64, 10, hidden=(32,), dropout=dropout)


def test_mlp_learns_digits_and_predicts(digits):
    train, test = digits
    tr = Trainer(max_epochs=8, batch_size=32, lr=3e-3, accelerator="cpu").fit(_mlp(), train, test)
    h = tr.history[-1]
    assert h["val_acc"] > 0.85 and h["train_loss"] < tr.history[0]["train_loss"]
    assert h["epoch"] == 8 and h["step"] == 8 * math.ceil(1200 / 32) and h["samples_per_s"] > 0
    ev = tr.evaluate(tr.model, test)
    assert ev["acc"] == pytest.approx(h["val_acc"]) and ev["loss"] == pytest.approx(h["val_loss"])
    pred = tr.predict(tr.model, test[0])
    assert pred.shape == (len(test[0]), 10)
    assert (pred.argmax(1).numpy() == test[1]).mean() == pytest.approx(h["val_acc"])


def test_same_seed_same_weights(digits):
    train, _ = digits
    a = Trainer(max_epochs=2, seed=3, accelerator="cpu").fit(_mlp(dropout=0.2), train).model
    b = Trainer(max_epochs=2, seed=3, accelerator="cpu").fit(_mlp(dropout=0.2), train).model
    c = Trainer(max_epochs=2, seed=4, accelerator="cpu").fit(_mlp(dropout=0.2), train).model
    assert torch.equal(_params(a), _params(b)) and not torch.equal(_params(a), _params(c))


@pytest.mark.parametrize("as_loader", [False, True], ids=["tensors", "dataloader"])
def test_resume_equals_uninterrupted(digits, tmp_path, as_loader):
    train, val = digits
    if as_loader:  # a user DataLoader shuffles from the global torch RNG: that state must be restored too
        ds = TensorDataset(torch.as_tensor(train[0]), torch.as_tensor(train[1]))
        train = DataLoader(ds, batch_size=64, shuffle=True)

    class Kill(Callback):  # the interrupted run dies at the start of epoch 3, as if killed
        def on_train_epoch_start(self, trainer, model):
            if trainer.current_epoch == 2:
                raise KeyboardInterrupt

    def trainer(ckdir, *extra):
        return Trainer(
            max_epochs=4,
            optimizer="sgd",
            lr=0.05,
            scheduler="cosine",
            seed=7,
            accelerator="cpu",
            callbacks=[
                EarlyStopping("val_loss", patience=10),
                ModelCheckpoint(ckdir, monitor="val_acc", mode="max"),
                *extra,
            ],
        )

    full = trainer(tmp_path / "full").fit(_mlp(dropout=0.3), train, val)
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "part", Kill()).fit(_mlp(dropout=0.3), train, val)
    resumed_trainer = trainer(tmp_path / "part")
    resumed = resumed_trainer.fit(
        _mlp(seed=99, dropout=0.3), train, val, resume_from=tmp_path / "part" / "last.pt"
    )
    assert torch.equal(_params(resumed.model), _params(full.model))
    assert resumed.global_step == full.global_step and len(resumed.history) == 4
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in full.history]
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]
    assert resumed_trainer.callbacks[0].wait == full.callbacks[0].wait
    ck = Trainer.load_checkpoint(tmp_path / "part" / "last.pt")
    assert ck["epoch"] == 4 and set(ck) >= {"model", "optimizer", "scheduler", "scaler", "rng", "global_step"}


def test_gradient_accumulation_matches_larger_batch(digits):
    train, _ = digits
    kw = dict(max_steps=5, optimizer="sgd", optimizer_kwargs={"momentum": 0.0}, lr=0.1, accelerator="cpu")
    a = Trainer(batch_size=32, **kw).fit(_mlp(), train)
    b = Trainer(batch_size=16, accumulate_grad_batches=2, **kw).fit(_mlp(), train)
    assert torch.allclose(_params(a.model), _params(b.model), atol=1e-6)
    assert a.estimated_stepping_batches == b.estimated_stepping_batches == 5  # max_steps, fewer than epochs'
    n_batches = -(-len(train[1]) // 16)
    assert Trainer(batch_size=16, accumulate_grad_batches=2, max_epochs=2, accelerator="cpu").fit(
        _mlp(), train
    ).estimated_stepping_batches == 2 * -(-n_batches // 2)


def test_gradient_clipping_bounds_the_step(digits):
    train, _ = digits
    model = _mlp()
    before = _params(model).clone()
    opt = dict(optimizer="sgd", optimizer_kwargs={"momentum": 0.0}, lr=1.0, accelerator="cpu", max_steps=1)
    Trainer(gradient_clip_val=1e-3, **opt).fit(model, train)
    assert torch.linalg.vector_norm(_params(model) - before).item() == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize(
    ("name", "cls"), [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("AdamW", torch.optim.AdamW)]
)
def test_optimizers_by_name(digits, name, cls):
    tr = Trainer(max_steps=2, optimizer=name, accelerator="cpu").fit(_mlp(), digits[0])
    assert type(tr.optimizer) is cls


def test_optimizer_and_scheduler_objects_and_schedules(digits):
    train, _ = digits
    tr = Trainer(max_epochs=2, lr=0.1, scheduler="cosine", accelerator="cpu").fit(_mlp(), train)
    assert tr.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-9)
    tr = Trainer(max_epochs=2, lr=0.1, scheduler="onecycle", accelerator="cpu").fit(_mlp(), train)
    assert tr.optimizer.param_groups[0]["lr"] < 1e-3
    tr = Trainer(
        max_epochs=1,
        lr=0.1,
        scheduler="step",
        scheduler_kwargs={"step_size": 10, "gamma": 0.5},
        accelerator="cpu",
    ).fit(_mlp(), train)
    assert tr.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (tr.global_step // 10))
    tr = Trainer(
        max_steps=3,
        optimizer=lambda p: torch.optim.RMSprop(p, lr=1e-3),
        scheduler=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / (1 + s)),
        accelerator="cpu",
    ).fit(_mlp(), train)
    assert type(tr.optimizer) is torch.optim.RMSprop and tr.optimizer.param_groups[0]["lr"] == pytest.approx(
        1e-3 / 4
    )


def test_precisions(digits):
    train, val = digits
    tr = Trainer(max_epochs=1, lr=1e-2, precision="bf16-mixed", accelerator="cpu").fit(_mlp(), train, val)
    assert math.isfinite(tr.history[0]["val_loss"]) and tr.history[0]["val_acc"] > 0.3
    assert tr.predict(tr.model, val[0][:4]).dtype == torch.float32
    tr = Trainer(max_epochs=1, lr=1e-2, precision="64", accelerator="cpu").fit(_mlp(), train, val)
    assert next(tr.model.parameters()).dtype == torch.float64 and tr.history[0]["val_acc"] > 0.3
    with pytest.raises(ValueError, match="'16-mixed' needs CUDA.*use 'bf16-mixed'"):
        Trainer(precision="16-mixed", accelerator="cpu")
    with pytest.raises(ValueError, match="unknown precision '8'; allowed: 32, 64, bf16-mixed, 16-mixed"):
        Trainer(precision="8")


def test_callbacks_logs_and_progress(digits, tmp_path):
    train, val = digits
    order = []

    class Recorder(Callback):
        def on_fit_start(self, trainer, model):
            order.append("fit_start")

        def on_train_epoch_start(self, trainer, model):
            order.append("epoch_start")

        def on_validation_end(self, trainer, model, metrics):
            order.append("val_end")

        def on_train_epoch_end(self, trainer, model, metrics):
            order.append("epoch_end")

        def on_fit_end(self, trainer, model):
            order.append("fit_end")

    stream = io.StringIO()
    lrmon = LRMonitor()
    # "max" on a falling val_loss never improves after epoch 1: patience 1 stops after epoch 3.
    es = EarlyStopping("val_loss", patience=1, mode="max")
    ck = ModelCheckpoint(tmp_path / "ck", monitor="val_acc", mode="max")
    tr = Trainer(
        max_epochs=10,
        scheduler="cosine",
        log_dir=tmp_path / "logs",
        accelerator="cpu",
        callbacks=[ck, es, lrmon, ProgressBar(refresh_rate=5, file=stream), Recorder()],
    )
    tr.fit(_mlp(), train, val)
    assert len(tr.history) == 3 and tr.should_stop and "early stopping: val_loss" in tr.stop_reason
    assert order == ["fit_start"] + ["epoch_start", "val_end", "epoch_end"] * 3 + ["fit_end"]
    assert len(lrmon.lrs) == tr.global_step and lrmon.lrs[0][1][0] < 1e-3 and "lr" in tr.history[0]
    assert (tmp_path / "ck" / "last.pt").exists() and ck.best_model_path.endswith("best.pt")
    assert ck.best_score == max(h["val_acc"] for h in tr.history)
    assert "epoch 3/10" in stream.getvalue()
    rows = (tmp_path / "logs" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step,train_loss") and len(rows) == 4
    js = json.loads((tmp_path / "logs" / "metrics.json").read_text())
    assert js["hparams"]["optimizer"] == "adam" and js["epochs"][2]["val_acc"] == tr.history[2]["val_acc"]
    with pytest.raises(
        ValueError, match="EarlyStopping: metric 'val_f1' not found; this run logs: epoch, epoch_time_s"
    ):
        Trainer(max_epochs=1, callbacks=[EarlyStopping("val_f1")], accelerator="cpu").fit(_mlp(), train, val)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(digits, tmp_path):
    train, _ = digits

    class Poisoned(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _mlp()
            self.poison = False

        def forward(self, x):
            out = self.net(x)
            return out * float("nan") if self.poison else out

    class PoisonAtEpoch3(Callback):
        def on_train_epoch_start(self, trainer, model):
            model.poison = trainer.current_epoch == 2

    ck = ModelCheckpoint(tmp_path)
    model = Poisoned()
    tr = Trainer(max_epochs=5, callbacks=[PoisonAtEpoch3(), ck], accelerator="cpu")
    with pytest.raises(
        NonFiniteLossError,
        match=r"non-finite training loss in epoch 3.*Last good checkpoint kept: .*last\.pt",
    ):
        tr.fit(model, train)
    saved = Trainer.load_checkpoint(tmp_path / "last.pt")
    assert saved["epoch"] == 2 and all(torch.isfinite(v).all() for v in saved["model"].values())
    assert "non-finite" in tr.stop_reason


def test_bad_input_errors(digits):
    (X, y), _ = digits
    tr = Trainer(max_epochs=1, accelerator="cpu")
    with pytest.raises(ValueError, match=r"cannot take a batch of inputs of shape \(64, 13\)"):
        tr.fit(MLP(64, 10), (X[:, :13], y))
    with pytest.raises(ValueError, match="targets contain class 9 but the model outputs 5 classes"):
        tr.fit(MLP(64, 5), (X, y))
    with pytest.raises(
        ValueError, match=r"model output shape \(64, 10\) does not match targets of shape \(64, 2\)"
    ):
        tr.fit(MLP(64, 10), (X, np.stack([y, y], 1)))
    with pytest.raises(ValueError, match="train_data is empty"):
        tr.fit(MLP(64, 10), (X[:0], y[:0]))
    with pytest.raises(ValueError, match="val_data is empty"):
        tr.fit(MLP(64, 10), (X, y), DataLoader(TensorDataset(torch.zeros(0, 64), torch.zeros(0))))
    with pytest.raises(ValueError, match="X has 1200 samples but y has 10"):
        tr.fit(MLP(64, 10), (X, y[:10]))
    with pytest.raises(TypeError, match="train_data must be a DataLoader, a Dataset or an"):
        tr.fit(MLP(64, 10), {"X": X})
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        tr.fit("mlp", (X, y))
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; allowed: sgd, adam, adamw"):
        Trainer(optimizer="lbfgs")
    with pytest.raises(ValueError, match="unknown scheduler 'linear'"):
        Trainer(scheduler="linear")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        Trainer(loss="hinge")
    with pytest.raises(ValueError, match="unknown accelerator 'npu'"):
        Trainer(accelerator="npu")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        Trainer(batch_size=0)
    with pytest.raises(ValueError, match="unknown strategy 'deepspeed'"):
        Trainer(strategy="deepspeed")
    with pytest.raises(ValueError, match="does not exist"):
        tr.fit(MLP(64, 10), (X, y), resume_from="/nonexistent/last.pt")


def test_regression_and_binary_losses():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, 3, generator=g)
    w = torch.tensor([1.0, -2.0, 0.5])
    tr = Trainer(max_epochs=30, lr=0.05, accelerator="cpu").fit(nn.Linear(3, 1), (X, X @ w))
    assert tr.history[-1]["train_loss"] < 1e-3 and "train_acc" not in tr.history[-1]
    tr = Trainer(max_epochs=20, lr=0.05, loss="bce", accelerator="cpu").fit(
        nn.Linear(3, 1), (X, (X @ w > 0).float()), (X, (X @ w > 0).float())
    )
    assert tr.history[-1]["val_acc"] > 0.95


def test_dataset_and_dataloader_inputs(digits):
    (X, y), val = digits
    ds = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    tr = Trainer(max_epochs=2, lr=1e-2, accelerator="cpu").fit(_mlp(), ds, DataLoader(ds, batch_size=100))
    assert tr.history[-1]["val_acc"] > 0.8 and tr.predict(tr.model, DataLoader(ds, batch_size=50)).shape == (
        1200,
        10,
    )


def test_xla_path_syncs_every_step_and_eval_batch(digits, monkeypatch):
    train, val = digits
    calls = {"sync": 0}
    xla = types.ModuleType("torch_xla")
    xla.device = lambda: torch.device("cpu")
    xla.sync = lambda: calls.__setitem__("sync", calls["sync"] + 1)
    monkeypatch.setitem(sys.modules, "torch_xla", xla)
    monkeypatch.setattr(acc_mod, "_tpu", lambda: (torch.device("cpu"), "torch_xla"))
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 0)
    tr = Trainer(max_epochs=2, lr=1e-2, batch_size=100, accumulate_grad_batches=2, accelerator="auto")
    assert tr.accelerator.kind == "tpu" and tr.accelerator.is_xla
    tr.fit(_mlp(), train, val)
    steps = 2 * math.ceil(12 / 2)
    val_batches = 2 * math.ceil(len(val[0]) / 100)
    # one sync per optimiser step and per evaluation batch, plus one per epoch to time it honestly
    assert tr.global_step == steps and calls["sync"] == steps + val_batches + 2
    assert tr.history[-1]["val_acc"] > 0.5


def test_compile_option(digits):
    tr = Trainer(max_steps=3, compile={"backend": "eager"}, accelerator="cpu").fit(_mlp(), digits[0])
    assert tr.global_step == 3 and isinstance(tr.model, MLP)


def test_gpt_language_model_reports_perplexity():
    text = load_corpus(max_chars=20_000)
    tok = CharTokenizer.fit(text)
    ids = tok.encode(text)
    train = CharLMDataset(ids[:18_000], 32).tensors()
    val = CharLMDataset(ids[18_000:], 32).tensors()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=32))
    tr = Trainer(max_epochs=3, batch_size=32, lr=3e-3, accelerator="cpu").fit(model, train, val)
    h = tr.history
    assert h[-1]["val_ppl"] < h[0]["val_ppl"] < tok.vocab_size
    assert h[-1]["val_ppl"] == pytest.approx(math.exp(h[-1]["val_loss"]))
    assert h[-1]["tokens_per_s"] == pytest.approx(32 * h[-1]["samples_per_s"])
    assert 0 < h[-1]["train_acc"] < 1
    out = model.generate(
        tok.encode("def ").unsqueeze(0), 20, top_k=5, generator=torch.Generator().manual_seed(0)
    )
    assert tok.decode(out[0]).startswith("def ") and out.shape == (1, 24)


def test_tensorboard_events_when_installed(digits, tmp_path, monkeypatch):
    import importlib.util

    scalars = []

    class FakeWriter:
        def __init__(self, logdir):
            self.logdir = logdir

        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def flush(self):
            pass

        def close(self):
            scalars.append(("closed", -1))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "tensorboard" else real(name, *a)
    )
    tr = Trainer(max_epochs=2, log_dir=tmp_path, accelerator="cpu").fit(_mlp(), digits[0])
    assert ("train_loss", tr.history[1]["step"]) in scalars and scalars[-1] == ("closed", -1)


def test_numpy_seed_and_device_object(digits):
    tr = Trainer(max_steps=2, seed=np.int64(5), accelerator=torch.device("cpu")).fit(_mlp(), digits[0])
    assert tr.seed == 5 and tr.device == torch.device("cpu")


def test_predict_accepts_rows_as_list_and_pairs(digits):
    (X, y), _ = digits
    tr = Trainer(max_steps=1, accelerator="cpu").fit(_mlp(), (X, y))
    two_rows = tr.predict(tr.model, X[:2].tolist())
    assert two_rows.shape == (2, 10)
    assert torch.allclose(tr.predict(tr.model, (X[:2], y[:2])), two_rows)
    with pytest.raises(ValueError, match="data is empty"):
        tr.predict(tr.model, X[:0])


@pytest.mark.slow
def test_compile_with_inductor_matches_eager(digits):
    train, _ = digits
    a = Trainer(max_epochs=2, compile=True, accelerator="cpu").fit(_mlp(), train)
    b = Trainer(max_epochs=2, accelerator="cpu").fit(_mlp(), train)
    assert a.history[-1]["train_loss"] == pytest.approx(b.history[-1]["train_loss"], rel=1e-5)
    assert torch.allclose(_params(a.model), _params(b.model), atol=1e-5)
