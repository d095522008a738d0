"""ConvergenceStop: the qml-benchmarks study's convergence criterion as a Trainer callback."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from qhybrid.classical import ConvergenceStop, Trainer
from qhybrid.classical.training import Callback
from qhybrid.classical.training.convergence import loss_is_flat


def _study_stop(losses, window):
    """The study's loop (model_utils.train), written out: the number of steps it runs on these losses, or
    None if it never stops."""
    history = []
    for step, loss in enumerate(losses):
        history.append(loss)
        if step > 2 * window:
            average1 = np.mean(history[-window:])
            average2 = np.mean(history[-2 * window : -window])
            std1 = np.std(history[-window:])
            if np.abs(average2 - average1) <= std1 / np.sqrt(window) / 2:
                return step + 1
    return None


def _feed(stop, losses, micro_batches=1, trainer=None):
    """Drive the callback's hooks with a stand-in trainer, one optimiser step per loss; returns the trainer
    and the step at which it asked to stop (None if it never did)."""
    trainer = trainer or SimpleNamespace(global_step=0, fast_dev_run=False, world_size=1, should_stop=False)
    stop.on_fit_start(trainer, None)
    for loss in losses:
        for k in range(micro_batches):
            if k == micro_batches - 1:
                trainer.global_step += 1
            # the micro-batches of a step average to its loss
            stop.on_train_batch_end(trainer, None, torch.tensor(loss + (k - (micro_batches - 1) / 2)), 0)
        if trainer.should_stop:
            return trainer, trainer.global_step
    return trainer, None


def _noisy_decay(n, seed):
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    return (np.exp(-steps / 150) + 0.05 * rng.standard_normal(n) + 0.3).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stops_exactly_where_the_studys_loop_stops(seed):
    losses = _noisy_decay(3000, seed)
    expected = _study_stop(losses, 50)
    assert expected is not None and expected > 2 * 50 + 2  # the decay delays it past the first check
    stop = ConvergenceStop(window=50)
    trainer, stopped = _feed(stop, losses)
    assert stopped == expected == stop.stopped_step
    assert stop.converged and trainer.should_stop and "converged" in trainer.stop_reason
    assert stop.losses == pytest.approx(losses[:expected])
    # the pure criterion agrees at every step: false before the stop, true at it
    assert not any(loss_is_flat(losses[:n], 50) for n in range(1, expected))
    assert loss_is_flat(losses[:expected], 50)


def test_never_before_two_windows_and_two_steps():
    # a constant loss satisfies the criterion (0 <= 0) as soon as it is tested: after 2 * window + 2 steps
    stop = ConvergenceStop(window=20)
    _, stopped = _feed(stop, [0.5] * 100)
    assert stopped == 2 * 20 + 2 == _study_stop([0.5] * 100, 20)


def test_does_not_stop_while_the_loss_keeps_falling():
    falling = np.linspace(2.0, 0.1, 2000) + 0.01 * np.random.default_rng(0).standard_normal(2000)
    stop = ConvergenceStop(window=50)
    trainer, stopped = _feed(stop, falling.tolist())
    assert stopped is None and not stop.converged and not trainer.should_stop
    assert _study_stop(falling.tolist(), 50) is None and len(stop.losses) == 2000


def test_a_step_of_accumulated_micro_batches_counts_once_with_their_mean_loss():
    losses = _noisy_decay(2000, 3)
    stop = ConvergenceStop(window=40)
    _, stopped = _feed(stop, losses, micro_batches=3)
    assert stopped == _study_stop(losses, 40)
    assert stop.losses == pytest.approx(losses[:stopped])


def test_state_dict_resumes_the_same_curve():
    losses = _noisy_decay(3000, 4)
    first = ConvergenceStop(window=50)
    trainer, _ = _feed(first, losses[:150])
    resumed = ConvergenceStop(window=50)
    resumed.setup(trainer, None, "fit")
    resumed.load_state_dict(first.state_dict())
    _, stopped = _feed(resumed, losses[150:], trainer=trainer)
    assert stopped == _study_stop(losses, 50)


def test_loss_is_flat_checks_its_input():
    assert not loss_is_flat([1.0] * 5, window=2)  # 5 = 2 * 2 + 1 losses: not tested yet
    assert loss_is_flat([1.0] * 6, window=2)
    with pytest.raises(
        ValueError, match=r"losses must be a 1-d sequence of per-step losses, got shape \(2, 3\)"
    ):
        loss_is_flat(np.ones((2, 3)), window=1)
    with pytest.raises(ValueError, match="window must be >= 1, got 0"):
        ConvergenceStop(window=0)
    with pytest.raises(TypeError, match="window must be an integer >= 1, got 2.5"):
        ConvergenceStop(window=2.5)


# ------------------------------------------------------------------------------------------ with the Trainer


class _Record(Callback):
    """Every optimiser step's batch loss, as the study's loop records it."""

    def __init__(self):
        self.losses = []

    def on_train_batch_end(self, trainer, model, loss, batch_idx):
        self.losses.append(float(loss.detach()))


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    return X, (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64)


def _fit(callbacks, max_steps, **kw):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    trainer = Trainer(
        max_epochs=10_000, max_steps=max_steps, lr=0.05, batch_size=16, callbacks=callbacks, seed=0, **kw
    )
    return trainer.fit(model, _data())


def test_trainer_stops_at_the_step_the_criterion_first_holds_across_epochs():
    record = _Record()
    _fit([record], max_steps=3000, enable_progress_bar=False)
    expected = _study_stop(record.losses, 30)
    assert expected is not None and expected > 4  # 4 batches an epoch: the stop comes many epochs in
    stop = ConvergenceStop(window=30)
    trainer = _fit([stop], max_steps=3000, enable_progress_bar=False)
    assert trainer.global_step == expected == stop.stopped_step and stop.converged
    assert stop.losses == pytest.approx(record.losses[:expected], rel=1e-6)
    assert trainer.history[-1]["step"] == expected  # the epoch it stopped in still finished its metrics
    # the next fit on the same trainer starts a fresh curve and stops at the same step
    assert _fit_again(trainer).global_step == expected


def _fit_again(trainer):
    torch.manual_seed(0)
    return trainer.fit(nn.Linear(3, 2), _data())


def test_max_steps_ends_training_before_the_criterion():
    stop = ConvergenceStop(window=30)
    trainer = _fit([stop], max_steps=40, enable_progress_bar=False)
    assert trainer.global_step == 40 and not stop.converged and stop.stopped_step is None
    assert len(stop.losses) == 40


def test_fast_dev_run_leaves_it_idle():
    stop = ConvergenceStop(window=1)
    trainer = _fit([stop], max_steps=None, fast_dev_run=2, enable_progress_bar=False)
    assert trainer.global_step == 2 and stop.losses == [] and not stop.converged
