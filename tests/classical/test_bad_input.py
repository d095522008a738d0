"""Bad input through the classical Python API: one clear exception naming the bad value, raised before any
training; and the defects fixed with them (float64 kept under precision "64", checkpoint errors)."""

import os

import numpy as np
import pytest
import torch

from qhybrid.classical import MLP, EarlyStopping, ModelCheckpoint, ProgressBar, Trainer
from qhybrid.classical.data import load_dataset, make_loader, make_split
from qhybrid.classical.solvers import goemans_williamson, simulated_annealing_qubo
from qhybrid.classical.validation import (
    ArgumentTypeError,
    check_bool,
    check_file,
    check_float,
    check_int,
    check_seed,
    check_writable_dir,
)

X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
Y = np.arange(16) % 2


def _fit(trainer, data=(X, Y), **kwargs):
    return trainer.fit(MLP(3, 2, (4,)), data, **kwargs)


# ------------------------------------------------------------------------------------ shared checks


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: check_bool("standardize", "no"),
            TypeError,
            r"standardize must be True or False, got str 'no'",
        ),
        (lambda: check_bool("flag", 1), TypeError, r"flag must be True or False, got 1"),
        (lambda: check_int("n", True), TypeError, r"n must be an integer, got bool True"),
        (lambda: check_int("n", 2.0, 1), TypeError, r"n must be an integer >= 1, got 2.0"),
        (lambda: check_int("n", "4", 1), TypeError, r"n must be an integer >= 1, got str '4'"),
        (lambda: check_int("n", 9, 1, 8), ValueError, r"n must be in 1..8, got 9"),
        (lambda: check_float("x", float("nan")), ValueError, r"x must be a finite number, got nan"),
        (lambda: check_float("x", "1.0"), TypeError, r"x must be a finite number, got str '1.0'"),
        (lambda: check_float("x", 0.0, 0, low_open=True), ValueError, r"x must be > 0, got 0.0"),
        (lambda: check_seed("seed", -1), ValueError, r"seed must be in 0..4294967295, got -1"),
        (
            lambda: check_seed("seed", 0.5),
            TypeError,
            r"seed must be an integer in 0..4294967295 or None, got 0.5",
        ),
        (
            lambda: check_seed("seed", None, allow_none=False),
            TypeError,
            r"seed must be an integer in 0..4294967295, got None",
        ),
    ],
)
def test_shared_checks_name_the_value(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_type_errors_are_also_value_errors():
    with pytest.raises(ValueError):
        check_int("n", "4")
    assert issubclass(ArgumentTypeError, TypeError)


def test_path_checks(tmp_path):
    afile = tmp_path / "f.txt"
    afile.write_text("x")
    with pytest.raises(ValueError, match=r"out '.*f.txt': exists and is not a folder"):
        check_writable_dir(afile, "out")
    with pytest.raises(ValueError, match=r"out '.*f.txt/sub': '.*f.txt' is a file"):
        check_writable_dir(afile / "sub", "out")
    with pytest.raises(ValueError, match=r"input '.*missing.txt': does not exist"):
        check_file(tmp_path / "missing.txt", "input")
    with pytest.raises(ValueError, match=r"input '.*': is a folder, not a file"):
        check_file(tmp_path, "input")
    with pytest.raises(TypeError, match=r"out must be a path .*got 3"):
        check_writable_dir(3, "out")
    assert check_writable_dir(tmp_path / "new" / "deeper", "out") == tmp_path / "new" / "deeper"


# ------------------------------------------------------------------------------------ Trainer


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"weight_decay": -1}, ValueError, r"weight_decay must be >= 0, got -1"),
        ({"lr": float("inf")}, ValueError, r"lr must be a finite number, got inf"),
        ({"lr": 0}, ValueError, r"lr must be > 0, got 0"),
        ({"lr": "0.1"}, TypeError, r"lr must be a finite number > 0, got str '0.1'"),
        ({"gradient_clip_val": "1.0"}, TypeError, r"gradient_clip_val must be .* or None, got str '1.0'"),
        ({"gradient_clip_val": 0.0}, ValueError, r"gradient_clip_val must be > 0, got 0.0"),
        ({"seed": -1}, ValueError, r"seed must be in 0..4294967295, got -1"),
        ({"seed": 0.5}, TypeError, r"seed must be an integer in 0..4294967295 or None, got 0.5"),
        ({"max_epochs": True}, TypeError, r"max_epochs must be an integer in 1..1000000, got bool True"),
        ({"batch_size": 8.0}, TypeError, r"batch_size must be an integer >= 1, got 8.0"),
        ({"max_steps": 0}, ValueError, r"max_steps must be in 1..1000000000, got 0"),
        ({"num_workers": -2}, ValueError, r"num_workers must be >= 0, got -2"),
        ({"accumulate_grad_batches": "2"}, TypeError, r"accumulate_grad_batches must be .*got str '2'"),
    ],
)
def test_trainer_options_are_checked_at_construction(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Trainer(**kwargs)


def test_all_nan_features_fail_before_training():
    trainer = Trainer(max_epochs=1, batch_size=8)
    with pytest.raises(
        ValueError, match=r"train_data X has 48 NaN/inf values \(every value\) in 16 of 16 rows"
    ):
        _fit(trainer, (np.full_like(X, np.nan), Y))
    assert trainer.global_step == 0 and trainer.history == []


def test_nan_in_validation_features_is_named():
    with pytest.raises(ValueError, match=r"val_data X has 1 NaN/inf values in 1 of 16 rows \(first row 5\)"):
        bad = X.copy()
        bad[5, 1] = np.inf
        _fit(Trainer(max_epochs=1), val_data=(bad, Y))


def test_tensor_with_requires_grad_is_refused():
    Xt = torch.tensor(X, requires_grad=True)
    with pytest.raises(ValueError, match=r"train_data X is a tensor with requires_grad=True.*detach"):
        _fit(Trainer(max_epochs=1), (Xt, torch.tensor(Y)))


def test_unwritable_checkpoint_folder_fails_before_the_first_epoch(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: use a path under a file instead
        blocker = tmp_path / "file"
        blocker.write_text("")
        target, why = blocker / "ckpt", "is a file"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target, why = locked / "ckpt", "not writable"
    trainer = Trainer(max_epochs=1, callbacks=[ModelCheckpoint(target)])
    with pytest.raises(ValueError, match=rf"ModelCheckpoint dirpath '.*ckpt': .*{why}"):
        _fit(trainer)
    assert trainer.global_step == 0


def test_log_dir_that_is_a_file_fails_before_training(tmp_path):
    log = tmp_path / "log"
    log.write_text("")
    trainer = Trainer(max_epochs=1, log_dir=log)
    with pytest.raises(ValueError, match=r"log_dir '.*log': exists and is not a folder"):
        _fit(trainer)
    assert trainer.global_step == 0


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: EarlyStopping(patience=-1), ValueError, r"patience must be >= 0, got -1"),
        (
            lambda: EarlyStopping(min_delta=float("nan")),
            ValueError,
            r"min_delta must be a finite number, got nan",
        ),
        (lambda: ModelCheckpoint("c", every_n_epochs=0), ValueError, r"every_n_epochs must be >= 1, got 0"),
        (lambda: ProgressBar(refresh_rate=2.5), TypeError, r"refresh_rate must be an integer >= 1, got 2.5"),
    ],
)
def test_callback_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ------------------------------------------------------------------------------------ checkpoints


def _checkpoint_file(tmp_path):
    trainer = _fit(Trainer(max_epochs=1, batch_size=8))
    path = tmp_path / "good.pt"
    trainer.save_checkpoint(path)
    return path


class Foreign:
    pass


@pytest.mark.parametrize(
    "kind, why",
    [
        ("empty", "the file is empty"),
        ("junk", "not a torch checkpoint file"),
        ("truncated", "the file is truncated or corrupt"),
        ("foreign object", r"it holds a Python object of type .*Foreign"),
        ("plain tensor", "it holds a Tensor, not a dict"),
        ("other dict", "it lacks the entries version, model"),
    ],
)
def test_bad_checkpoints_are_named_without_unpickling_advice(tmp_path, kind, why):
    path = tmp_path / "bad.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "junk":
        path.write_bytes(b"hello, not a checkpoint")
    elif kind == "truncated":
        data = _checkpoint_file(tmp_path).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "foreign object":
        torch.save({"a": Foreign()}, path)
    elif kind == "plain tensor":
        torch.save(torch.zeros(3), path)
    else:
        torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match=rf"^not a qhybrid checkpoint: .*bad.pt: {why}") as info:
        _fit(Trainer(max_epochs=1), resume_from=path)
    assert "weights_only" not in str(info.value)
    # torch's error (whose text suggests weights_only=False) is not shown as the cause or context
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_good_checkpoint_still_loads(tmp_path):
    assert Trainer.load_checkpoint(_checkpoint_file(tmp_path))["version"] == 1


# ------------------------------------------------------------------------------------ precision "64"


def test_precision_64_keeps_float64_inputs():
    x = np.array([[1.0 + 1e-12], [1.0]])
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def forward(self, inputs):
            seen.append(inputs.detach().clone())
            return self.lin(inputs)

    trainer = Trainer(max_epochs=1, precision="64", batch_size=2, loss="mse")
    trainer.fit(Probe(), (x, np.zeros(2)))
    assert seen[0].dtype == torch.float64
    assert sorted(seen[0].flatten().tolist()) == [1.0, 1.0 + 1e-12]
    out = trainer.predict(Probe(), x)
    assert seen[-1].dtype == torch.float64 and seen[-1].max().item() == 1.0 + 1e-12
    assert out.dtype == torch.float64


def test_precision_32_still_casts_to_float32():
    seen = []
    model = MLP(3, 2, (4,))
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    Trainer(max_epochs=1).fit(model, (X.astype(np.float64), Y))
    assert seen[0] == torch.float32


# ------------------------------------------------------------------------------------ data and solvers


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"standardize": "no"}, TypeError, r"standardize must be True or False, got str 'no'"),
        ({"random_state": -1}, ValueError, r"random_state must be in 0..4294967295, got -1"),
        ({"random_state": 1.5}, TypeError, r"random_state must be an integer in 0..4294967295, got 1.5"),
        ({"test_size": 1.0}, ValueError, r"test_size must be in \(0, 1\), got 1.0"),
        ({"test_size": "0.2"}, TypeError, r"test_size must be a finite number in \(0, 1\), got str '0.2'"),
        ({"n_samples": 2}, ValueError, r"n_samples must be in 4..10000000, got 2"),
        ({"n_features": 3.0}, TypeError, r"n_features must be an integer >= 1 or None, got 3.0"),
    ],
)
def test_load_dataset_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_dataset("moons", **kwargs)


def test_make_split_and_make_loader_use_the_same_checks():
    with pytest.raises(ValueError, match=r"random_state must be in 0..4294967295, got -1"):
        make_split(X, Y, random_state=-1)
    with pytest.raises(TypeError, match=r"standardize must be True or False, got str 'no'"):
        make_split(X, Y, standardize="no")
    with pytest.raises(TypeError, match=r"shuffle must be True or False, got str 'yes'"):
        make_loader(X, Y, shuffle="yes")
    with pytest.raises(ValueError, match=r"seed must be in 0..4294967295, got -3"):
        make_loader(X, Y, seed=-3)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: simulated_annealing_qubo(np.eye(2), random_state=-1),
            ValueError,
            r"random_state must be in 0..4294967295, got -1",
        ),
        (
            lambda: simulated_annealing_qubo(np.eye(2), random_state=0.5),
            TypeError,
            r"random_state must be .*got 0.5",
        ),
        (
            lambda: simulated_annealing_qubo(np.eye(2), n_sweeps="9"),
            TypeError,
            r"n_sweeps must be .*got str '9'",
        ),
        (
            lambda: simulated_annealing_qubo(np.eye(2), t_start=-1.0),
            ValueError,
            r"t_start must be > 0, got -1.0",
        ),
        (
            lambda: simulated_annealing_qubo(np.eye(2), offset=float("nan")),
            ValueError,
            r"offset must be a finite number, got nan",
        ),
        (lambda: goemans_williamson(None, n_rounds=1), TypeError, "graph must be a networkx.Graph"),
    ],
)
def test_classical_solver_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_a_checkpoint_resumed_with_another_optimiser_says_so(tmp_path):
    path = _checkpoint_file(tmp_path)  # Adam, the default
    with pytest.raises(ValueError, match=r"optimiser state is Adam's, but this Trainer trains with SGD"):
        _fit(Trainer(max_epochs=2, batch_size=8, optimizer="sgd"), resume_from=path)


def test_validation_inputs_of_another_width_are_refused_before_training():
    val = (torch.rand(8, 5), torch.randint(0, 2, (8,)))
    with pytest.raises(
        ValueError, match=r"val_data inputs have shape \(n, 5\) but train_data's are \(n, 3\)"
    ):
        _fit(Trainer(max_epochs=1, batch_size=8), val_data=val)


@pytest.mark.parametrize("seed", [2**32, 2**40, -1])
def test_a_seed_past_what_numpy_takes_is_refused_up_front_everywhere(seed):
    """2**40 passed the old check and failed deep inside scikit-learn (or not at all: torch takes it)."""
    from qhybrid import load_dataset, make_model
    from qhybrid.classical.validation import MAX_SEED

    message = f"random_state must be in 0..{MAX_SEED}, got {seed}"
    with pytest.raises(ValueError, match=message):
        load_dataset("moons", random_state=seed)
    for name in ("mlp", "dressed"):  # (scikit-learn's own models name the range themselves)
        with pytest.raises(ValueError, match=message):
            make_model(name, random_state=seed).fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
