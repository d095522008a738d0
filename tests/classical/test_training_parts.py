"""The pieces of classical/training/: the Precision object (and the float64 cast it fixes for loaders),
the callback hooks around backward and the optimiser step, checkpoint hooks, callback order, and the
metric accumulator shared by the training and evaluation loops."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from qhybrid.classical.accelerators import resolve_accelerator
from qhybrid.classical.models import MLP
from qhybrid.classical.training import Callback, ModelCheckpoint, Precision, Strategy, Trainer
from qhybrid.classical.training.losses import resolve_loss
from qhybrid.classical.training.metrics import MetricAccumulator

CPU = resolve_accelerator("cpu")
RNG = np.random.default_rng(0)
X64 = RNG.normal(size=(32, 3))  # float64, as numpy makes it
Y = np.arange(32) % 2


def _mlp():
    torch.manual_seed(0)
    return MLP(3, 2, (4,))


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# ------------------------------------------------------------------------------------ precision


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_float64_batches_from_a_dataset_train_in_float32(precision):
    # Before the Precision object, only (X, y) pairs were cast: float64 batches from a Dataset or
    # DataLoader reached the float32 model and failed with "mat1 and mat2 must have the same dtype".
    seen = []
    model = _mlp()
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    ds = TensorDataset(torch.as_tensor(X64), torch.as_tensor(Y))
    tr = Trainer(max_epochs=1, batch_size=8, precision=precision, accelerator="cpu")
    tr.fit(model, ds, DataLoader(ds, batch_size=16))
    assert set(seen) == {torch.float32} and len(seen) == 4 + 2
    pred = tr.predict(model, DataLoader(ds, batch_size=16))
    assert pred.dtype == torch.float32
    assert torch.allclose(pred, tr.predict(model, X64.astype(np.float32)), atol=1e-6)


def test_one_full_batch_gives_the_same_weights_by_either_path():
    ds = TensorDataset(torch.as_tensor(X64), torch.as_tensor(Y))
    kw = dict(max_steps=3, batch_size=32, optimizer="sgd", lr=0.1, accelerator="cpu")
    a = Trainer(**kw).fit(_mlp(), (X64, Y)).model
    b = Trainer(**kw).fit(_mlp(), ds).model
    assert torch.allclose(_flat(a), _flat(b), atol=1e-6)


def test_precision_64_converts_float32_loader_batches_and_targets():
    seen = []
    model = nn.Linear(3, 1)
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    ds = TensorDataset(torch.as_tensor(X64, dtype=torch.float32), torch.ones(32))
    tr = Trainer(max_steps=1, precision="64", batch_size=32, accelerator="cpu").fit(model, ds)
    assert seen == [torch.float64] and next(tr.model.parameters()).dtype == torch.float64


def test_precision_object_names_and_conversions():
    assert Precision(64, CPU).name == "64" and Precision("bf16", CPU).name == "bf16-mixed"
    assert Precision("32-true", CPU).input_dtype == torch.float32
    p64 = Precision("64", CPU)
    assert p64.convert_input(torch.zeros(2, dtype=torch.float16)).dtype == torch.float64
    assert p64.convert_input(torch.zeros(2, dtype=torch.long)).dtype == torch.long
    bf16 = Precision("bf16-mixed", CPU)
    assert bf16.is_mixed and bf16.convert_output(torch.zeros(1, dtype=torch.bfloat16)).dtype == torch.float32
    with bf16.forward_context():
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="unknown precision '8'; allowed: 32, 64, bf16-mixed, 16-mixed"):
        Precision(8, CPU)
    with pytest.raises(ValueError, match="'16-mixed' needs CUDA"):
        Precision(16, CPU)


def test_strategy_on_one_process():
    s = Strategy("auto", CPU)
    s.setup()
    assert (s.kind, s.rank, s.world_size, s.sharded) == ("single", 0, 1, False)
    assert s.all_reduce([1.0, 2.0]) == [1.0, 2.0]
    with pytest.raises(ValueError, match="unknown strategy 'horovod'; allowed: auto, single, ddp, fsdp"):
        Strategy("horovod", CPU)


# ------------------------------------------------------------------------------------ hooks


class Recorder(Callback):
    def __init__(self):
        self.events = []
        self.norms = []

    def on_before_backward(self, trainer, model, loss):
        self.events.append("before_backward")
        assert loss.requires_grad

    def on_after_backward(self, trainer, model):
        self.events.append("after_backward")
        assert all(p.grad is not None for p in model.parameters())

    def on_before_optimizer_step(self, trainer, model, optimizer):
        self.events.append("before_step")
        self.norms.append(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()])))

    def on_after_optimizer_step(self, trainer, model, optimizer):
        self.events.append(f"after_step {trainer.global_step}")

    def on_save_checkpoint(self, trainer, model, checkpoint):
        checkpoint["recorder"] = {"events": len(self.events)}

    def on_load_checkpoint(self, trainer, model, checkpoint):
        self.loaded = checkpoint.get("recorder")


def test_hooks_around_backward_and_step_with_accumulation_and_clipping():
    rec = Recorder()
    model = _mlp()
    before = _flat(model).clone()
    kw = dict(optimizer="sgd", optimizer_kwargs={"momentum": 0.0}, lr=1.0, accelerator="cpu")
    tr = Trainer(
        max_steps=1, batch_size=8, accumulate_grad_batches=2, gradient_clip_val=1e-3, callbacks=[rec], **kw
    )
    tr.fit(model, (X64, Y))
    assert rec.events == ["before_backward", "after_backward"] * 2 + ["before_step", "after_step 1"]
    # the hook saw the gradients before clipping; the step then moved the weights by lr * clip
    assert rec.norms[0] > 1e-2
    assert torch.linalg.vector_norm(_flat(model) - before).item() == pytest.approx(1e-3, rel=1e-3)


def test_checkpoint_hooks_and_checkpointing_after_the_other_callbacks(tmp_path):
    class EpochCounter(Callback):
        def __init__(self):
            self.n = 0

        def on_train_epoch_end(self, trainer, model, metrics):
            self.n += 1

        def state_dict(self):
            return {"n": self.n}

        def load_state_dict(self, state):
            self.n = state["n"]

    rec = Recorder()
    # ModelCheckpoint is listed first but runs last (order 1): the saved counter is the epoch's own.
    tr = Trainer(max_epochs=2, accelerator="cpu", callbacks=[ModelCheckpoint(tmp_path), EpochCounter(), rec])
    tr.fit(_mlp(), (X64, Y))
    assert [type(cb).__name__ for cb in tr.callbacks] == ["EpochCounter", "Recorder", "ModelCheckpoint"]
    ckpt = Trainer.load_checkpoint(tmp_path / "last.pt")
    assert ckpt["callbacks"]["EpochCounter"] == {"n": 2} and ckpt["recorder"]["events"] > 0
    assert tr.last_checkpoint_path == str(tmp_path / "last.pt")
    again = Recorder()
    Trainer(max_epochs=3, accelerator="cpu", callbacks=[again]).fit(
        _mlp(), (X64, Y), resume_from=tmp_path / "last.pt"
    )
    assert again.loaded == ckpt["recorder"]


# ------------------------------------------------------------------------------------ metrics


@pytest.mark.parametrize("defer", [False, True])
def test_metric_accumulator_against_a_direct_computation(defer, monkeypatch):
    # A limit of 24 waiting elements: under defer the 7-row batch (28 elements) makes the first two
    # batches' scores be argmax'ed at once and the 3-row one waits for the fold, so both are in one sum.
    monkeypatch.setattr("qhybrid.classical.training.metrics._SCORES_MAX", 24)
    g = torch.Generator().manual_seed(1)
    outs = [torch.randn(n, 4, generator=g) for n in (5, 7, 3)]
    ys = [torch.randint(0, 4, (len(o),), generator=g) for o in outs]
    loss = resolve_loss("auto", ys[0])
    acc = MetricAccumulator(torch.device("cpu"), loss, defer=defer)
    for out, y in zip(outs, ys, strict=True):
        acc.update(loss.fn(out, y), out, y, len(y))
    if defer:
        assert len(acc._scores) == 1 and len(acc._predictions) == 1
    m = acc.compute(lambda values: values, "data")
    out, y = torch.cat(outs), torch.cat(ys)
    assert m["loss"] == pytest.approx(nn.functional.cross_entropy(out.double(), y).item(), rel=1e-6)
    assert m["acc"] == pytest.approx((out.argmax(1) == y).double().mean().item())
    assert acc.total_seen == 15 and "ppl" not in m
    with pytest.raises(ValueError, match="val_data yielded no batches"):
        MetricAccumulator(torch.device("cpu"), loss).compute(lambda values: values, "val_data")


def test_weight_decay_spares_biases_and_norm_gains_unless_asked_for_every_parameter():
    from torch import nn

    from qhybrid.classical.training.optim import make_optimizer

    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    opt = make_optimizer("adamw", model, 1e-3, 0.1, {})
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    assert decayed == {id(model[0].weight), id(model[2].weight)}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    every = make_optimizer("adamw", model, 1e-3, 0.0, {"weight_decay": 0.1})
    assert [g["weight_decay"] for g in every.param_groups] == [0.1]
    assert len(make_optimizer("sgd", model, 1e-3, 0.0, {}).param_groups) == 1  # no decay: one group


def test_a_callback_hears_validation_start_before_its_end():
    import numpy as np

    from qhybrid.classical.models import MLP
    from qhybrid.classical.training import Callback, Trainer

    heard = []

    class Ears(Callback):
        def on_validation_start(self, trainer, model):
            heard.append(("start", model.training))

        def on_validation_end(self, trainer, model, metrics):
            heard.append(("end", "val_loss" in metrics))

    X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    Trainer(max_epochs=2, callbacks=[Ears()], enable_progress_bar=False).fit(
        MLP(3, 2, (4,)), (X, y), val_data=(X, y)
    )
    assert [h[0] for h in heard] == ["start", "end", "start", "end"]
    assert all(h[1] for h in heard if h[0] == "end")


def test_resuming_with_other_parameter_groups_says_so_in_one_line(tmp_path):
    import numpy as np

    from qhybrid.classical.models import MLP
    from qhybrid.classical.training import ModelCheckpoint, Trainer

    X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    grouped = Trainer(max_epochs=1, optimizer="adamw", weight_decay=0.1, enable_progress_bar=False)
    grouped.callbacks.append(ModelCheckpoint(tmp_path))
    grouped.fit(MLP(3, 2, (4,)), (X, y))
    flat = Trainer(
        max_epochs=2, optimizer="adamw", optimizer_kwargs={"weight_decay": 0.1}, enable_progress_bar=False
    )
    with pytest.raises(ValueError, match="optimiser state does not fit this Trainer's optimiser"):
        flat.fit(MLP(3, 2, (4,)), (X, y), ckpt_path=str(tmp_path / "last.pt"))
