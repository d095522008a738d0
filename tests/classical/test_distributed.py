"""Distributed training on 2 CPU processes (gloo): DDP, FSDP2 and pipeline parallelism, each checked
against a single-process run on the same global batch."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
from sklearn.datasets import load_digits
from torch import nn

from qhybrid.classical.distributed import Pipeline, cleanup, launch, shard_model, split_sequential
from qhybrid.classical.models import MLP
from qhybrid.classical.training import Callback, ModelCheckpoint, Trainer

N, B = 640, 16  # 640 samples = 20 global batches of 2 x 16: no partial batch, no padding


def _data():
    X, y = load_digits(return_X_y=True)
    return (X[:N] / 16.0).astype(np.float32), y[:N]


def _model():
    torch.manual_seed(0)
    return MLP(64, 10, hidden=(32, 32))


def _flat(model):
    return torch.cat([v.detach().flatten().cpu() for v in model.state_dict().values()])


def _train_data_parallel(strategy):
    X, y = _data()
    trainer = Trainer(
        max_epochs=2, batch_size=B, optimizer="sgd", lr=0.1, strategy=strategy, accelerator="cpu"
    )
    trainer.fit(_model(), (X, y), (X[:100], y[:100]))
    state = trainer.model_state_dict()  # the whole model under every strategy (gathered under FSDP)
    flat = torch.cat([v.detach().flatten().cpu() for v in state.values()]) if state else None
    return {"rank": dist.get_rank(), "params": flat, "history": trainer.history}


def _single_process_reference():
    X, y = _data()
    trainer = Trainer(max_epochs=2, batch_size=2 * B, optimizer="sgd", lr=0.1, accelerator="cpu")
    trainer.fit(_model(), (X, y), (X[:100], y[:100]))
    return _flat(trainer.model), trainer.history


def test_ddp_two_processes_match_single_process():
    results = launch(_train_data_parallel, nprocs=2, args=("ddp",))
    ref, ref_history = _single_process_reference()
    assert [r["rank"] for r in results] == [0, 1]
    assert torch.equal(results[0]["params"], results[1]["params"])  # replicas never diverge
    assert torch.allclose(results[0]["params"], ref, atol=1e-5)
    h, r = results[0]["history"][-1], ref_history[-1]
    assert h["step"] == r["step"] == 2 * N // (2 * B)
    assert h["train_loss"] == pytest.approx(r["train_loss"], rel=1e-5)  # averaged over both ranks
    assert h["val_acc"] == pytest.approx(r["val_acc"])


class _Kill(Callback):
    def on_train_epoch_start(self, trainer, model):
        if trainer.current_epoch == 1:
            raise KeyboardInterrupt


def _fsdp_resume(ckdir):
    """FSDP2 run killed after epoch 1 and resumed from its (gathered, full) checkpoint."""
    X, y = _data()

    def trainer(*extra):
        return Trainer(
            max_epochs=2,
            batch_size=B,
            optimizer="adam",
            lr=1e-2,
            strategy="fsdp",
            accelerator="cpu",
            callbacks=[ModelCheckpoint(ckdir), *extra],
        )

    try:
        trainer(_Kill()).fit(_model(), (X, y))
    except KeyboardInterrupt:
        pass
    dist.barrier()
    resumed = trainer()
    resumed.fit(_model(), (X, y), resume_from=f"{ckdir}/last.pt")
    state = resumed.model_state_dict()
    return torch.cat([v.detach().flatten().cpu() for v in state.values()]) if state else None


def _fsdp_and_pipeline(ckdir):
    out = _train_data_parallel("fsdp")
    out["resumed"] = _fsdp_resume(ckdir)
    X, y = _data()
    full = Trainer(max_epochs=2, batch_size=B, optimizer="adam", lr=1e-2, strategy="fsdp", accelerator="cpu")
    full.fit(_model(), (X, y))
    state = full.model_state_dict()
    out["uninterrupted"] = torch.cat([v.detach().flatten().cpu() for v in state.values()]) if state else None
    # Pipeline: stage 0 = first two layers, stage 1 = the rest, on the two ranks.
    X, y = _data()
    X, y = torch.as_tensor(X[:64]), torch.as_tensor(y[:64])
    for schedule in ("gpipe", "1f1b"):
        model = _model()
        stages = split_sequential(model.net, 2)
        pipe = Pipeline(stages, schedule=schedule, n_microbatches=4)
        opt = torch.optim.SGD(pipe.module.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            losses.append(pipe.step(X, y))
            opt.step()
        out[schedule] = {"params": _flat(pipe.module), "losses": losses}
    return out


def _pipeline_reference():
    X, y = _data()
    X, y = torch.as_tensor(X[:64]), torch.as_tensor(y[:64])
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    stages = split_sequential(model.net, 2)
    return [_flat(s) for s in stages], losses


def test_fsdp2_and_pipeline_two_processes(tmp_path):
    r0, r1 = launch(_fsdp_and_pipeline, nprocs=2, args=(str(tmp_path),))
    ref, _ = _single_process_reference()
    # optimiser state (Adam moments) is gathered into the checkpoint and re-sharded on resume
    assert torch.allclose(r0["resumed"], r0["uninterrupted"], atol=1e-6)
    assert r1["params"] is None or r1["params"].numel() == 0 or torch.allclose(r1["params"], ref, atol=1e-5)
    assert torch.allclose(r0["params"], ref, atol=1e-5)  # full state gathered on rank 0
    stage_ref, loss_ref = _pipeline_reference()
    for schedule in ("gpipe", "1f1b"):
        assert torch.allclose(r0[schedule]["params"], stage_ref[0], atol=1e-5), schedule
        assert torch.allclose(r1[schedule]["params"], stage_ref[1], atol=1e-5), schedule
        assert r0[schedule]["losses"] == [None] * 3
        assert r1[schedule]["losses"] == pytest.approx(loss_ref, rel=1e-5)


def _fails():
    raise ValueError("boom on purpose")


def test_launch_reports_worker_errors_and_bad_arguments():
    with pytest.raises(RuntimeError, match="(?s)rank 0:.*boom on purpose"):
        launch(_fails, nprocs=1)
    with pytest.raises(ValueError, match="nprocs must be >= 1, got 0"):
        launch(_fails, nprocs=0)
    with pytest.raises(ValueError, match="unknown backend 'mpi'"):
        launch(_fails, nprocs=1, backend="mpi")


def test_single_process_helpers_without_group():
    parts = split_sequential(
        nn.Sequential(nn.Linear(4, 100), nn.ReLU(), nn.Linear(100, 100), nn.Linear(100, 2)), 2
    )
    assert [len(p) for p in parts] == [3, 1] or [len(p) for p in parts] == [2, 2]
    assert sum(len(p) for p in parts) == 4
    with pytest.raises(ValueError, match="n_stages must be in 1..2"):
        split_sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), 3)
    with pytest.raises(ValueError, match="needs an initialised process group"):
        shard_model(_model())
    with pytest.raises(ValueError, match="no process group and no torchrun environment"):
        Trainer(strategy="ddp", accelerator="cpu").fit(_model(), _data())
    cleanup()  # no group: nothing to do
