"""Tests for hybrid.kernels: the kernel classifiers against scikit-learn's SVC on Gram matrices computed
directly on default.qubit, scikit-learn compatibility (clone, GridSearchCV, make_model), and errors by
type and message before any circuit runs."""

import pickle
import warnings

import numpy as np
import pennylane as qp
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import check_estimator

import qhybrid.qml.kernels as qkernels
from qhybrid.hybrid.kernels import IQPKernelClassifier, ProjectedKernelClassifier, SeparableKernelClassifier
from qhybrid.hybrid.models import fitted_stats, make_model, model_family

NAMES = {
    "iqp-kernel": IQPKernelClassifier,
    "pqk": ProjectedKernelClassifier,
    "sep-kernel": SeparableKernelClassifier,
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    y[:2] = [0, 1]
    return X[:8], y[:8], X[8:], y[8:]


def scaled(X_train, X):
    return MinMaxScaler(feature_range=(-np.pi / 2, np.pi / 2)).fit(X_train).transform(X)


def iqp_gram(A, B, repeats):
    n = A.shape[1]

    @qp.qnode(qp.device("default.qubit", wires=n))
    def circuit(x1, x2):
        qp.IQPEmbedding(x1, wires=range(n), n_repeats=repeats)
        qp.adjoint(qp.IQPEmbedding(x2, wires=range(n), n_repeats=repeats))
        return qp.probs()

    return np.array([[circuit(a, b)[0] for b in B] for a in A])


def pqk_paulis(X, rotations, t, steps):
    n = X.shape[1] + 1

    @qp.qnode(qp.device("default.qubit", wires=n))
    def circuit(x):
        for i in range(n):
            qp.Rot(*rotations[i], wires=i)
        for _ in range(steps):
            for j in range(n - 1):
                for gate in (qp.IsingXX, qp.IsingYY, qp.IsingZZ):
                    gate(x[j] * t / steps * (n - 1), wires=[j, j + 1])
        return [qp.expval(P(i)) for P in (qp.X, qp.Y, qp.Z) for i in range(n)]

    return np.array([np.ravel(circuit(x)) for x in X])


def sep_gram(A, B, layers):
    @qp.qnode(qp.device("default.qubit", wires=1))
    def qubit(a, b):
        for _ in range(layers):
            qp.RX(-np.pi / 4, wires=0)
            qp.RY(-a, wires=0)
        for _ in range(layers):
            qp.RY(b, wires=0)
            qp.RX(np.pi / 4, wires=0)
        return qp.probs(wires=0)

    return np.array([[np.prod([qubit(a[k], b[k])[0] for k in range(len(a))]) for b in B] for a in A])


def reference_grams(name, est, X_train, X_test):
    """The study's train Gram and test-train kernel, computed on default.qubit from its circuits."""
    A, B = scaled(X_train, X_train), scaled(X_train, X_test)
    if name == "iqp-kernel":
        return iqp_gram(A, A, est.repeats), iqp_gram(B, A, est.repeats)
    if name == "sep-kernel":
        return sep_gram(A, A, est.encoding_layers), sep_gram(B, A, est.encoding_layers)
    pa = pqk_paulis(A, est.rotations_, est.t, est.trotter_steps)
    pb = pqk_paulis(B, est.rotations_, est.t, est.trotter_steps)
    gamma = est.gamma_factor / (X_train.shape[1] * np.var(pa))
    dist = lambda u, v: ((u[:, None] - v[None]) ** 2).sum(axis=2)  # noqa: E731
    return np.exp(-gamma * dist(pa, pa)), np.exp(-gamma * dist(pb, pa))


PARAMS = {
    "iqp-kernel": {"repeats": 2},
    "pqk": {"trotter_steps": 3, "t": 0.5},
    "sep-kernel": {"encoding_layers": 2},
}


@pytest.mark.parametrize("name", list(NAMES))
def test_predictions_equal_an_svc_on_the_reference_gram(data, name):
    X, y, Xt, _ = data
    est = make_model(name, backend="aer", C=3.0, random_state=4, **PARAMS[name]).fit(X, y)
    assert isinstance(est, NAMES[name]) and model_family(name) == "quantum"
    assert est.kernel_method_ == "statevector"
    train, test = reference_grams(name, est, X, Xt)
    if name == "pqk":  # the rotation angles are the seeded draw, as in the study
        np.testing.assert_array_equal(est.rotations_, np.random.default_rng(4).uniform(0, 2 * np.pi, (4, 3)))
    np.testing.assert_allclose(est._test_gram(Xt), test, atol=1e-8)
    ref = SVC(kernel="precomputed", C=3.0).fit(train, y)
    np.testing.assert_array_equal(est.predict(Xt), ref.predict(test))
    np.testing.assert_allclose(est.decision_function(Xt), ref.decision_function(test), atol=1e-6)
    assert est.score(Xt, ref.predict(test)) == 1.0


def test_predict_runs_circuits_for_the_new_samples_only(data):
    X, y, Xt, _ = data
    est = IQPKernelClassifier(random_state=0).fit(X, y)
    kernel = est.kernel_
    assert kernel.circuit_executions == len(X) == est.circuit_executions_
    est.predict(Xt)
    assert kernel.circuit_executions == len(X) + len(Xt)
    stats = fitted_stats(est)
    assert stats["circuit_executions"] == len(X) and stats["n_qubits"] == 3
    assert stats["n_params"] == est.svc_.support_.size * 3 + est.svc_.dual_coef_.size + 1


@pytest.mark.parametrize(
    ("name", "backend", "options", "method"),
    [
        ("iqp-kernel", "aer.shots", {"shots": 2000}, "fidelity"),
        ("sep-kernel", "aer.density", {"noise": {"depolarizing_1q": 0.02}}, "fidelity"),
        ("pqk", "aer.density", {"noise": {"depolarizing_1q": 0.02, "depolarizing_2q": 0.02}}, "expval"),
    ],
)
def test_shots_and_noise_fall_back_and_still_classify(data, name, backend, options, method):
    X, y, Xt, _ = data
    est = make_model(name, backend=backend, random_state=1, **options).fit(X, y)
    exact = make_model(name, backend="aer", random_state=1).fit(X, y)
    assert est.kernel_method_ == method
    diff = np.abs(est._test_gram(Xt) - exact._test_gram(Xt))
    assert 0 < diff.max() < 0.2  # sampled or noisy, close to the exact kernel
    assert est.predict(Xt).shape == (len(Xt),)


def test_grid_search_over_C_and_clone(data):
    X, y, Xt, yt = data
    est = IQPKernelClassifier(repeats=1, random_state=0)
    search = GridSearchCV(est, {"C": [0.1, 1.0, 10.0], "repeats": [1, 2]}, cv=2).fit(X, y)
    assert search.best_params_["C"] in (0.1, 1.0, 10.0)
    assert 0.0 <= search.score(Xt, yt) <= 1.0
    twin = clone(make_model("pqk", backend="default", gamma_factor=0.1, t=0.01))
    assert twin.get_params()["gamma_factor"] == 0.1 and twin.backend == "default"
    assert not hasattr(twin, "svc_")


@pytest.mark.parametrize("name", list(NAMES))
def test_a_fitted_classifier_pickles_and_predicts_the_same(data, name):
    X, y, Xt, _ = data
    est = make_model(name, backend="aer", random_state=2).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(loaded.decision_function(Xt), est.decision_function(Xt), atol=1e-12)
    assert loaded.kernel_.device is not est.kernel_.device


@pytest.mark.parametrize("name", list(NAMES))
def test_check_estimator_passes_everything(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(make_model(name, random_state=0, **({"trotter_steps": 1} if name == "pqk" else {})))


def test_many_features_fit_the_separable_kernel_on_one_qubit_states():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(6, 60)), np.array([0, 1] * 3)
    est = SeparableKernelClassifier(random_state=0).fit(
        X, y
    )  # 60 qubits: only one-qubit states are simulated
    assert est.n_qubits_ == 60 and est.kernel_.n_wires == 1 and est.circuit_executions_ == 360
    assert est.predict(X[:2]).shape == (2,)


# --------------------------------------------------------------------------------------------- errors


@pytest.fixture
def no_circuits(monkeypatch):
    """Any device creation fails the test: every error below comes before a circuit could run."""

    def refuse(*args, **kwargs):
        raise AssertionError("a device was made before the input was checked")

    monkeypatch.setattr(qkernels, "make_device", refuse)


@pytest.mark.parametrize(
    ("params", "X", "y", "error", "match"),
    [
        ({}, [[0.0, np.nan], [1.0, 2.0]], [0, 1], ValueError, r"X has 1 NaN/inf values in 1 of 2 rows"),
        ({}, [[0.0, np.inf], [1.0, 2.0]], [0, 1], ValueError, r"X has 1 NaN/inf values"),
        ({}, [0.0, 1.0], [0, 1], ValueError, r"Expected 2D array, got 1D array"),
        ({}, [[0.0, 1.0], [1.0, 2.0]], [0, 1, 1], ValueError, r"inconsistent numbers of samples"),
        ({}, [[0.0, 1.0], [1.0, 2.0]], [1, 1], ValueError, r"at least 2 classes in y, got 1 class"),
        (
            {"backend": "qpu"},
            [[0.0, 1.0], [1.0, 2.0]],
            [0, 1],
            ValueError,
            r"unknown backend 'qpu'; allowed: aer",
        ),
        ({"C": 0.0}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], ValueError, r"C must be > 0, got 0\.0"),
        ({"C": -1}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], ValueError, r"C must be > 0, got -1"),
        (
            {"C": "big"},
            [[0.0, 1.0], [1.0, 2.0]],
            [0, 1],
            TypeError,
            r"C must be a finite number > 0, got str",
        ),
        ({"repeats": 0}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], ValueError, r"repeats must be >= 1, got 0"),
        ({"shots": -5}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], ValueError, r"shots must be >= 1, got -5"),
        (
            {"random_state": -1},
            [[0.0, 1.0], [1.0, 2.0]],
            [0, 1],
            ValueError,
            r"random_state must be in 0..4294967295",
        ),
        (
            {"n_qubits": 3},
            [[0.0, 1.0], [1.0, 2.0]],
            [0, 1],
            ValueError,
            r"n_qubits=3 does not fit 2 features: the IQP kernel puts one qubit per feature .* must be 2",
        ),
        (
            {},
            np.eye(41)[:2],
            [0, 1],
            ValueError,
            r"IQP kernel needs 41 qubits for 41 features; qhybrid's backends allow 1\.\.40",
        ),
    ],
)
def test_bad_input_is_refused_before_any_circuit(no_circuits, params, X, y, error, match):
    with pytest.raises(error, match=match):
        IQPKernelClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    ("cls", "params", "match"),
    [
        (ProjectedKernelClassifier, {"gamma_factor": 0}, r"gamma_factor must be > 0, got 0"),
        (ProjectedKernelClassifier, {"trotter_steps": 0}, r"trotter_steps must be >= 1, got 0"),
        (ProjectedKernelClassifier, {"t": -0.1}, r"t must be > 0, got -0\.1"),
        (ProjectedKernelClassifier, {"n_qubits": 2}, r"puts one qubit per feature and one more .* must be 3"),
        (SeparableKernelClassifier, {"encoding_layers": 1.5}, r"encoding_layers must be an integer >= 1"),
    ],
)
def test_bad_hyperparameters_of_pqk_and_separable(no_circuits, cls, params, match):
    with pytest.raises(ValueError, match=match):
        cls(**params).fit([[0.0, 1.0], [1.0, 2.0]], [0, 1])


def test_predict_checks_its_input_before_any_circuit(data):
    X, y, Xt, _ = data
    est = SeparableKernelClassifier(random_state=0).fit(X, y)
    runs = est.kernel_.circuit_executions
    with pytest.raises(ValueError, match=r"X has 2 features, but SeparableKernelClassifier is expecting 3"):
        est.predict(Xt[:, :2])
    with pytest.raises(ValueError, match=r"X has 1 NaN/inf values"):
        est.predict(np.where(np.eye(4, 3, dtype=bool)[:1], np.nan, Xt[:1]))
    assert est.kernel_.circuit_executions == runs
    with pytest.raises(NotFittedError, match="IQPKernelClassifier instance is not fitted yet"):
        IQPKernelClassifier().predict(Xt)


def test_shots_backend_without_shots_names_the_fix(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match=r"backend 'aer.shots' samples and needs shots > 0"):
        IQPKernelClassifier(backend="aer.shots").fit(X, y)
