"""Tests for the qml-benchmarks protocol (hybrid.protocols, hybrid.search, the runner's records and the
report) and the study's baselines: scikit-learn's MLP (``mlp-sk``) and the torch MLP's ``alpha``."""

import copy

import pytest
import torch
from sklearn.model_selection import GridSearchCV
from torch import nn

from qhybrid.classical.data import load_dataset
from qhybrid.hybrid.models import MLPClassifier, _adam_l2, fitted_stats, make_model, model_family


@pytest.fixture(scope="module")
def moons():
    return load_dataset("moons", n_samples=120, random_state=0)


# ------------------------------------------------------------------------------------------ baselines


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_sk_is_the_studys_mlp_and_works_in_grid_search(moons):
    est = make_model("mlp-sk", random_state=0)
    assert model_family("mlp-sk") == "classical"
    assert est.max_iter == 3000 and est.hidden_layer_sizes == (100, 100)
    search = GridSearchCV(
        make_model("mlp-sk", random_state=0, max_iter=500),
        {"hidden_layer_sizes": [(1,), (16,)], "alpha": [1e-4]},
        cv=3,
    ).fit(moons.X_train, moons.y_train)
    # one hidden unit cannot bend the boundary around the moons; sixteen can
    assert search.best_params_ == {"alpha": 1e-4, "hidden_layer_sizes": (16,)}
    assert search.score(moons.X_test, moons.y_test) > 0.85
    fitted = search.best_estimator_
    assert fitted_stats(fitted) == {
        "n_params": 2 * 16 + 16 + 16 * 1 + 1,
        "circuit_executions": 0,
        "n_qubits": 0,
    }


def _weight_norm(est: MLPClassifier) -> float:
    return float(sum((p.detach() ** 2).sum() for p in est.module_.parameters() if p.ndim > 1))


def test_torch_mlp_alpha_shrinks_the_weights(moons):
    kw = {"hidden": (32,), "max_epochs": 40, "lr": 0.01, "batch_size": 16, "random_state": 0}
    free = MLPClassifier(alpha=0.0, **kw).fit(moons.X_train, moons.y_train)
    decayed = MLPClassifier(alpha=1.0, **kw).fit(moons.X_train, moons.y_train)
    assert _weight_norm(decayed) < 0.7 * _weight_norm(free)
    assert decayed.score(moons.X_test, moons.y_test) > 0.75  # still a classifier, only a smoother one
    with pytest.raises(ValueError, match="alpha"):
        MLPClassifier(alpha=-1.0).fit(moons.X_train, moons.y_train)


def test_alpha_means_sklearns_penalty_on_the_weight_matrices():
    """One Adam step with the decay equals one plain Adam step on ``CE + alpha / (2 b) * sum ||W||^2``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    twin = copy.deepcopy(model)
    x, y = torch.randn(8, 3), torch.tensor([0, 1] * 4)
    alpha, b = 0.5, 8

    opt = _adam_l2(0.1, alpha / b)(list(model.parameters()))
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()

    plain = torch.optim.Adam(twin.parameters(), lr=0.1)
    penalty = sum((p**2).sum() for p in twin.parameters() if p.ndim > 1)
    (nn.functional.cross_entropy(twin(x), y) + alpha / (2 * b) * penalty).backward()
    plain.step()
    for got, want in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
