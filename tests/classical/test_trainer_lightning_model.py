"""A model written for PyTorch Lightning: its configure_optimizers trains it, its step hooks are named in a
warning (the Trainer trains model(x) with its loss), ckpt_path resumes, validate and test evaluate."""

import warnings

import numpy as np
import pytest
import torch

from qhybrid.classical.models import MLP
from qhybrid.classical.training import ModelCheckpoint, Trainer

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)


class _Lit(MLP):
    """An MLP with Lightning's hooks: SGD at lr 0.5 from configure_optimizers, a training_step that fails."""

    def __init__(self, returned="optimizer"):
        torch.manual_seed(0)
        super().__init__(3, 2, (8,))
        self.returned = returned

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.5)
        sched = torch.optim.lr_scheduler.StepLR(opt, 1)
        return {
            "optimizer": opt,
            "list": [opt],
            "dict": {"optimizer": opt},
            "two": [opt, torch.optim.Adam(self.parameters())],
            "scheduler": ([opt], [sched]),
            "dict-scheduler": {"optimizer": opt, "lr_scheduler": sched},
            "none": None,
        }[self.returned]

    def training_step(self, batch, batch_idx):
        raise AssertionError("the Trainer does not call training_step")


@pytest.mark.parametrize("returned", ["optimizer", "list", "dict"])
def test_configure_optimizers_gives_the_optimizer(returned):
    model = _Lit(returned)
    with pytest.warns(UserWarning, match="defines training_step, which this Trainer does not call"):
        trainer = Trainer(max_epochs=2, batch_size=16, optimizer="adam", enable_progress_bar=False)
        trainer.fit(model, (X, Y))
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    assert trainer.optimizer.param_groups[0]["lr"] == 0.5
    # the same steps by hand: SGD at 0.5, no momentum, on the Trainer's batches, equal to the trained weights
    reference = _Lit(returned)
    ref = Trainer(max_epochs=2, batch_size=16, optimizer="sgd", lr=0.5, optimizer_kwargs={"momentum": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.enable_progress_bar = False
        ref.fit(reference, (X, Y))
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("two", "returned 2 optimisers"),
        ("scheduler", "returned a learning-rate scheduler"),
        ("dict-scheduler", "returned a learning-rate scheduler"),
        ("none", "returned None; the Trainer takes one torch.optim.Optimizer"),
    ],
)
def test_what_configure_optimizers_returns_that_the_trainer_cannot_use_is_refused(returned, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=message):
            Trainer(max_epochs=1, enable_progress_bar=False).fit(_Lit(returned), (X, Y))


def test_a_plain_module_gets_no_warning_and_the_trainers_optimizer():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.manual_seed(0)
        trainer = Trainer(max_epochs=1, optimizer="sgd", enable_progress_bar=False).fit(
            MLP(3, 2, (8,)), (X, Y)
        )
    assert isinstance(trainer.optimizer, torch.optim.SGD)


def test_ckpt_path_resumes_as_resume_from(tmp_path):
    def run(**resume):
        torch.manual_seed(0)
        model = MLP(3, 2, (8,))
        cb = ModelCheckpoint(tmp_path / "ck")
        Trainer(max_epochs=4, batch_size=16, callbacks=[cb], enable_progress_bar=False).fit(
            model, (X, Y), **resume
        )
        return model

    run()
    last = tmp_path / "ck" / "last.pt"
    by_ckpt = run(ckpt_path=str(last))
    by_resume = run(resume_from=str(last))
    for a, b in zip(by_ckpt.parameters(), by_resume.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="resume_from or ckpt_path"):
        Trainer(max_epochs=1).fit(MLP(3, 2, (8,)), (X, Y), resume_from=str(last), ckpt_path=str(last))


def test_validate_and_test_are_evaluate():
    torch.manual_seed(0)
    model = MLP(3, 2, (8,))
    trainer = Trainer(max_epochs=1, enable_progress_bar=False)
    want = trainer.evaluate(model, (X, Y))
    assert trainer.validate(model, (X, Y)) == want
    assert trainer.test(model, (X, Y)) == want


def test_a_run_with_configure_optimizers_resumes_with_its_optimizer(tmp_path):
    def run(epochs, **resume):
        model = _Lit()
        cb = ModelCheckpoint(tmp_path / "ck")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = Trainer(max_epochs=epochs, batch_size=16, callbacks=[cb], enable_progress_bar=False)
            trainer.fit(model, (X, Y), **resume)
        return model, trainer

    straight, _ = run(4)
    run(2)
    resumed, trainer = run(4, ckpt_path=str(tmp_path / "ck" / "last.pt"))
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b)
