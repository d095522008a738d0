"""Bad input stops before any work, and a failed run says so (issue #12).

* the estimators of ``hybrid.models`` refuse a bad constructor argument in ``fit``, before any data is
  checked or any module built, with one error naming the argument, its value and what is allowed, while
  ``clone`` / ``get_params`` / ``set_params`` keep any value (scikit-learn's convention).
"""

import math

import numpy as np
import pytest
from sklearn.base import clone

from qhybrid.hybrid import models
from qhybrid.hybrid.models import make_model

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

    monkeypatch.setattr(models, "validate_data", refuse)
    monkeypatch.setattr(models, "_train", refuse)


def _raises(estimator, kind, pattern):
    with pytest.raises(kind, match=pattern) as info:
        estimator.fit(X, Y)
    if kind is ValueError:  # a value out of range is a plain ValueError, not a type error
        assert not isinstance(info.value, TypeError), info.value
    return info.value


# ------------------------------------------------------------------------------------- estimators


COMMON = [
    ({"random_state": -1}, ValueError, r"^random_state must be >= 0, got -1$"),
    (
        {"random_state": 0.5},
        TypeError,
        r"^random_state must be an integer >= 0, a numpy RandomState or None, got 0\.5$",
    ),
    ({"random_state": True}, TypeError, r"^random_state must be an integer >= 0, .* got bool True$"),
    ({"random_state": "3"}, TypeError, r"^random_state must be an integer >= 0, .* got str '3'$"),
    ({"lr": math.inf}, ValueError, r"^lr must be a finite number, got inf$"),
    ({"lr": -math.inf}, ValueError, r"^lr must be a finite number, got -inf$"),
    ({"lr": math.nan}, ValueError, r"^lr must be a finite number, got nan$"),
    ({"lr": -1}, ValueError, r"^lr must be > 0, got -1$"),
    ({"lr": 0.0}, ValueError, r"^lr must be > 0, got 0\.0$"),
    ({"lr": "0.1"}, TypeError, r"^lr must be a finite number > 0, got str '0\.1'$"),
    ({"lr": True}, TypeError, r"^lr must be a finite number > 0, got bool True$"),
    ({"max_epochs": 0}, ValueError, r"^max_epochs must be >= 1, got 0$"),
    ({"max_epochs": -3}, ValueError, r"^max_epochs must be >= 1, got -3$"),
    ({"max_epochs": 2.0}, TypeError, r"^max_epochs must be an integer >= 1, got 2\.0$"),
    ({"max_epochs": True}, TypeError, r"^max_epochs must be an integer >= 1, got bool True$"),
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
    with pytest.raises(ValueError, match=r"^max_epochs must be >= 1, got 0$"):
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
