"""dqc-study and drc-study (hybrid.study_models): the qml-benchmarks study's dressed quantum circuit and data
re-uploading classifiers, against the study's definitions written out here on default.qubit."""

import math
import pickle
import warnings

import numpy as np
import pennylane as qp
import pytest
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from qhybrid.hybrid.models import fitted_stats, make_model, model_family, model_names
from qhybrid.hybrid.protocols import study_grid
from qhybrid.hybrid.study_models import DQCStudyClassifier, DRCStudyClassifier

FAST = {"convergence": None, "max_epochs": 2, "batch_size": 8, "lr": 0.05}


def _data(n_features: int, n_samples: int = 16, seed: int = 0):
    """Features on different scales and offsets (so the scalers matter), labels -1 and 1 as in the study."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * np.arange(1, n_features + 1) + 3.0
    y = np.where(X[:, 0] + 0.5 * X[:, -1] > np.median(X[:, 0] + 0.5 * X[:, -1]), 1, -1)
    return X, y


def _as_trained(X_train: np.ndarray) -> np.ndarray:
    """The training inputs as the fit sees them (qhybrid's torch models read them in float32)."""
    return X_train.astype(np.float32).astype(np.float64)


# ------------------------------------------------------------------------------------------ the study's circuits


def _study_dqc_logits(params: dict, X_train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The study's dressed quantum circuit: standardise, tanh(W_in x) * pi/2, H + RY encoding, RY layers each
    followed by a CNOT ring (one CNOT on two wires), W_out <Z>."""
    scaled = StandardScaler().fit(_as_trained(X_train)).transform(X)
    weights = params["circuit_weights"]
    n = X.shape[1]
    ring = [(0, 1)] if n == 2 else [(i, (i + 1) % n) for i in range(n)]

    @qp.qnode(qp.device("default.qubit", wires=n))
    def circuit(a):
        for i in range(n):
            qp.Hadamard(wires=i)
            qp.RY(a[i], wires=i)
        for layer in range(len(weights)):
            for i in range(n):
                qp.RY(weights[layer, i], wires=i)
            for pair in ring:
                qp.CNOT(wires=pair)
        return [qp.expval(qp.Z(i)) for i in range(n)]

    rows = [np.tanh(params["input_weights"] @ x) * np.pi / 2 for x in scaled]
    return np.array([params["output_weights"] @ np.array(circuit(a)) for a in rows])


def _study_drc_expvals(params: dict, X_train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The study's re-uploading circuit: features scaled to [-pi/2, pi/2], zero-padded to 3 per qubit;
    per layer Rot(x * omega) and Rot(theta) on each wire, CZs on (0,1),(2,3).. (even layers) or (1,2),..
    (odd layers); a last Rot(x * omega + theta) with no CZs. Returns <Z> of every wire."""
    thetas, omegas = params["thetas"], params["omegas"]
    n, n_layers = thetas.shape[0], thetas.shape[1] - 1
    scaled = MinMaxScaler(feature_range=(-np.pi / 2, np.pi / 2)).fit(_as_trained(X_train)).transform(X)
    padded = np.pad(scaled, ((0, 0), (0, 3 * n - X.shape[1])))

    @qp.qnode(qp.device("default.qubit", wires=n))
    def circuit(x):
        for layer in range(n_layers):
            for i in range(n):
                qp.Rot(*(x[3 * i : 3 * i + 3] * omegas[layer, 3 * i : 3 * i + 3]), wires=i)
                qp.Rot(*thetas[i, layer], wires=i)
            for i in range(layer % 2, n - 1, 2):
                qp.CZ(wires=[i, i + 1])
        for i in range(n):
            qp.Rot(
                *(x[3 * i : 3 * i + 3] * omegas[n_layers, 3 * i : 3 * i + 3] + thetas[i, n_layers]), wires=i
            )
        return [qp.expval(qp.Z(i)) for i in range(n)]

    return np.array([circuit(x) for x in padded])


def _study_drc_loss(params: dict, expvals: np.ndarray, y: np.ndarray) -> float:
    """The study's loss (its eq. 23) on a batch, labels -1 and 1, over the observed wires."""
    alphas = params["alphas"]
    z = expvals[:, : alphas.shape[1]]
    probs0, probs1 = (1 - z) / 2, (1 + z) / 2
    y0, y1 = ((1 - y) / 2)[:, None], ((1 + y) / 2)[:, None]
    return 0.5 * np.sum((alphas[0] * probs0 - y0) ** 2 + (alphas[1] * probs1 - y1) ** 2) / len(y)


# ------------------------------------------------------------------------------------------ values


@pytest.mark.parametrize("n_features", [2, 3])
def test_dqc_study_equals_the_study_circuit(n_features):
    X, y = _data(n_features)
    est = make_model("dqc-study", n_layers=2, random_state=1, **FAST).fit(X, y)
    assert fitted_stats(est)["engine"] == "torch"  # backend "auto": qhybrid's torch engine
    params = est.params_
    assert params["input_weights"].shape == (n_features, n_features)
    assert params["circuit_weights"].shape == (2, n_features)
    assert params["output_weights"].shape == (2, n_features)
    X_new = X[:4] + np.array([0.3, -0.7, 1.1][:n_features])
    logits = _study_dqc_logits(params, X, X_new)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(est.decision_function(X_new), logits[:, 1] - logits[:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(est.predict_proba(X_new), softmax, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(est.predict(X_new), est.classes_[np.argmax(softmax, axis=1)])


@pytest.mark.parametrize(("observable_type", "observed"), [("single", 1), ("half", 2), ("full", 4)])
def test_drc_study_equals_the_study_circuit(observable_type, observed):
    X, y = _data(10)  # 4 qubits, 2 features of padding; CZs on (0,1),(2,3) then (1,2)
    est = make_model("drc-study", n_layers=2, observable_type=observable_type, random_state=2, **FAST)
    est.fit(X, y)
    assert fitted_stats(est)["engine"] == "torch" and est.n_qubits_ == 4
    params = est.params_
    assert (params["thetas"].shape, params["omegas"].shape) == ((4, 3, 3), (3, 12))
    assert params["alphas"].shape == (2, observed)
    X_new = X[:4] * 0.9 + 0.2
    f = _study_drc_expvals(params, X, X_new)[:, :observed].mean(axis=1)
    np.testing.assert_allclose(est.decision_function(X_new), f, rtol=0, atol=1e-10)
    np.testing.assert_allclose(est.predict_proba(X_new), np.c_[(1 - f) / 2, (1 + f) / 2], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(est.predict(X_new), np.where(f > 0, 1, -1))


def test_drc_study_on_pennylane_equals_the_torch_engine():
    X, y = _data(4)
    kw = {"n_layers": 1, "observable_type": "full", "random_state": 3, **FAST}
    torch_est = make_model("drc-study", **kw).fit(X, y)
    default_est = make_model("drc-study", backend="default", **kw).fit(X, y)
    assert fitted_stats(default_est)["engine"] == "default"
    np.testing.assert_allclose(default_est.predict_proba(X), torch_est.predict_proba(X), rtol=0, atol=1e-10)


def test_drc_study_trains_on_the_study_loss():
    X, y = _data(5, n_samples=12)
    # one full batch and a negligible step: the recorded loss is the study's loss at the parameters read out
    est = make_model("drc-study", n_layers=2, observable_type="full", convergence=None, max_epochs=1)
    est.set_params(batch_size=len(X), lr=1e-12, random_state=4).fit(X, y)
    expvals = _study_drc_expvals(est.params_, X, _as_trained(X))
    assert est.loss_curve_[0] == pytest.approx(_study_drc_loss(est.params_, expvals, y), abs=1e-9)
    # and the training outputs' cross-entropy is that loss plus log 2, for any batch
    out = est.module_(torch.as_tensor(_as_trained(X[:5])))
    ce = torch.nn.functional.cross_entropy(out, torch.as_tensor((y[:5] > 0).astype(np.int64))).item()
    assert ce - math.log(2) == pytest.approx(_study_drc_loss(est.params_, expvals[:5], y[:5]), abs=1e-12)


# ------------------------------------------------------------------------------------------ fit, predict, errors


def test_fit_then_predict_returns_the_labels():
    X, y = _data(3, n_samples=20)
    labels = np.where(y > 0, "yes", "no")
    for name in ("dqc-study", "drc-study"):
        est = make_model(name, n_layers=1, random_state=0, **FAST).fit(X, labels)
        assert list(est.classes_) == ["no", "yes"]
        pred = est.predict(X[:7])
        assert pred.shape == (7,) and set(pred) <= {"no", "yes"}
        proba = est.predict_proba(X[:7])
        assert proba.shape == (7, 2) and np.allclose(proba.sum(axis=1), 1.0)
        assert len(est.loss_curve_) == 2 and est.n_steps_ == 6 and est.circuit_executions_ > 0


def test_dqc_study_takes_more_classes_drc_study_does_not():
    X, y = _data(3, n_samples=18)
    y3 = np.arange(18) % 3
    est = DQCStudyClassifier(n_layers=1, random_state=0, **FAST).fit(X, y3)
    assert est.predict_proba(X[:4]).shape == (4, 3) and est.params_["output_weights"].shape == (3, 3)
    with pytest.raises(ValueError, match="Only binary classification is supported: DRCStudyClassifier"):
        DRCStudyClassifier(n_layers=1, **FAST).fit(X, y3)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "drc-study",
            {"observable_type": "quarter"},
            r"observable_type must be one of 'single', 'half', 'full', got 'quarter'",
        ),
        ("drc-study", {"n_layers": 0}, r"n_layers must be >= 1, got 0"),
        ("dqc-study", {"n_layers": 0}, r"n_layers must be >= 1, got 0"),
    ],
)
def test_bad_arguments_are_refused_with_what_is_allowed(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_model(name, **params).fit([[0.0], [1.0]], [0, 1])


# ------------------------------------------------------------------------------------------ registry, protocol


def test_the_registry_builds_both_with_the_study_defaults():
    assert {"dqc-study", "drc-study"} <= set(model_names())
    assert (model_family("dqc-study"), model_family("drc-study")) == ("hybrid", "quantum")
    dqc = make_model("dqc-study", backend="default", random_state=5)
    assert isinstance(dqc, DQCStudyClassifier) and (dqc.backend, dqc.random_state) == ("default", 5)
    assert (dqc.n_layers, dqc.lr, dqc.batch_size, dqc.max_steps) == (3, 0.001, 32, 100_000)
    drc = make_model("drc-study")
    assert isinstance(drc, DRCStudyClassifier) and drc.convergence == dqc.convergence == "qml-benchmarks"
    assert (drc.n_layers, drc.observable_type, drc.lr, drc.max_steps) == (4, "single", 0.05, 10_000)


def test_the_protocol_searches_the_study_grids():
    grid, notes = study_grid("qml-benchmarks", "drc-study", {})
    assert notes == []
    assert grid == {
        "batch_size": [32],
        "lr": [0.001, 0.01, 0.1],
        "n_layers": [1, 5, 10, 15],
        "observable_type": ["single", "half", "full"],
    }
    grid, notes = study_grid("qml-benchmarks", "dqc-study", {"n_layers": 2})
    assert grid == {"batch_size": [32], "lr": [0.001, 0.01, 0.1]}
    assert notes == ["'n_layers' is fixed at 2 by the experiment, not searched"]


def test_a_pickled_model_predicts_the_same():
    X, y = _data(4)
    for name in ("dqc-study", "drc-study"):
        est = make_model(name, n_layers=1, random_state=0, **FAST).fit(X, y)
        copy = pickle.loads(pickle.dumps(est))  # the engine compiles its circuit again at first use
        np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))


def test_scikit_learn_checks_pass():
    # check_classifiers_train's accuracy bar needs more than these two epochs (as for the other models)
    expected = {"check_classifiers_train": "2 training epochs are too few for its accuracy bar"}
    for name in ("dqc-study", "drc-study"):
        est = make_model(name, n_layers=1, random_state=0, **FAST)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_estimator(est, expected_failed_checks=expected)
