"""Tests for the qml-benchmarks protocol (hybrid.protocols, hybrid.search, the runner's records and the
report) and the study's baselines: scikit-learn's MLP (``mlp-sk``) and the torch MLP's ``alpha``."""

import copy

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from torch import nn

from qhybrid.classical.data import load_dataset
from qhybrid.hybrid import search as search_module
from qhybrid.hybrid.config import parse_config
from qhybrid.hybrid.estimators import adam_l2
from qhybrid.hybrid.models import MLPClassifier, fitted_stats, make_model, model_family, model_names
from qhybrid.hybrid.protocols import STUDY_MODELS, data_options, describe, grid_notes, study_grid
from qhybrid.hybrid.report import render_report
from qhybrid.hybrid.runner import Runner, grid, run_cell
from qhybrid.hybrid.search import cv_splitter


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

    opt = adam_l2(0.1, alpha / b)(list(model.parameters()))
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()

    plain = torch.optim.Adam(twin.parameters(), lr=0.1)
    penalty = sum((p**2).sum() for p in twin.parameters() if p.ndim > 1)
    (nn.functional.cross_entropy(twin(x), y) + alpha / (2 * b) * penalty).backward()
    plain.step()
    for got, want in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------------ protocol settings

QMLB = "qmlb:linearly_separable_10d"


def _cfg(**raw):
    return parse_config({"models": ["svc"], "datasets": [QMLB], **raw})


def test_protocol_sets_the_studys_choices():
    cfg = _cfg(protocol="qml-benchmarks", models=["svc", "mlp", "mlp-sk", "drc", "logreg"])
    assert cfg.protocol == "qml-benchmarks" and cfg.seeds == [0, 1, 2, 3, 4]
    s = cfg.search
    assert (s["method"], s["cv"], s["shuffle"], s["refit"], s["random_state"]) == (
        "grid",
        5,
        False,
        "accuracy",
        42,
    )
    assert s["scoring"] == ["accuracy", "roc_auc"]
    assert s["space"]["svc"] == {"gamma": [0.001, 0.01, 0.1, 1.0], "C": [0.1, 1.0, 10.0, 100.0]}
    # the study's MLPClassifier grid in the torch model's names
    assert s["space"]["mlp"] == {
        "batch_size": [32],
        "lr": [0.001, 0.01, 0.1],
        "hidden": [(100,), (10, 10, 10, 10), (50, 10, 5)],
        "alpha": [0.01, 0.001, 0.0001],
    }
    assert set(s["space"]["mlp-sk"]) == {"batch_size", "learning_rate_init", "hidden_layer_sizes", "alpha"}
    assert s["space"]["drc"] == {"batch_size": [32], "lr": [0.001, 0.01, 0.1], "n_layers": [1, 5, 10, 15]}
    assert "logreg" not in s["space"]
    # raw features for the study's data sets only
    assert data_options(cfg.protocol, QMLB, cfg.data) == {"standardize": False}
    assert data_options(cfg.protocol, "moons", cfg.data) == {}
    assert data_options(None, QMLB, cfg.data) == {}


def test_explicit_keys_win_over_the_protocol():
    cfg = _cfg(
        protocol="qml-benchmarks",
        models=["svc", "mlp"],
        seeds=2,
        data={"standardize": True},
        params={"svc": {"C": 3.0}},
        search={"cv": 3, "shuffle": True, "scoring": "accuracy", "space": {"mlp": {"lr": [0.1]}}},
    )
    assert cfg.seeds == [0, 1]
    assert (cfg.search["cv"], cfg.search["shuffle"], cfg.search["scoring"]) == (3, True, ["accuracy"])
    assert cfg.search["space"] == {"svc": {"gamma": [0.001, 0.01, 0.1, 1.0]}, "mlp": {"lr": [0.1]}}
    assert data_options(cfg.protocol, QMLB, cfg.data) == {"standardize": True}
    assert grid_notes(cfg.protocol, cfg.search, "svc", cfg.model_specs["svc"]) == [
        "'C' is fixed at 3.0 by the experiment, not searched"
    ]
    assert grid_notes(cfg.protocol, cfg.search, "mlp", cfg.model_specs["mlp"]) == []  # its own grid


def test_every_study_grid_builds_its_model():
    for name in sorted(set(STUDY_MODELS) & set(model_names())):
        grid, notes = study_grid("qml-benchmarks", name, {})
        assert grid, name
        for key, values in grid.items():
            for value in values:
                est = make_model(name, **{key: value})
                if hasattr(est, "check_params"):
                    est.check_params()
                else:
                    est._validate_params()
    assert study_grid("qml-benchmarks", "drc", {})[1] == [
        "the study's DataReuploadingClassifier also searches 'observable_type', which 'drc' lacks"
    ]
    assert "'repeats'" in study_grid("qml-benchmarks", "iqp", {})[1][0]
    assert "no grid for 'vqc'" in study_grid("qml-benchmarks", "vqc", {})[1][0]


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"protocol": "qmlb"}, r"unknown protocol 'qmlb' in 'protocol'; allowed: qml-benchmarks"),
        (
            {"search": {"protocol": "qml-benchmarks"}},
            r"unknown key 'protocol' in \[search\]; allowed: method",
        ),
        ({"search": {"cv": 1}}, r"search.cv must be an int >= 2, got 1"),
        ({"search": {"cv": "5"}}, r"search.cv must be an int >= 2, got '5'"),
        ({"search": {"shuffle": "yes"}}, r"search.shuffle must be true or false, got 'yes'"),
        ({"search": {"scoring": "acc"}}, r"unknown scorer 'acc' in search.scoring; did you mean accuracy"),
        ({"search": {"scoring": []}}, r"search.scoring must be a scorer name or a non-empty list"),
        ({"search": {"scoring": ["accuracy", "accuracy"]}}, r"search.scoring names 'accuracy' twice"),
        (
            {"search": {"scoring": ["accuracy"], "refit": "roc_auc"}},
            r"search.refit = 'roc_auc' must be one of search.scoring \(accuracy\)",
        ),
        ({"search": {"random_state": -1}}, r"search.random_state must be an int >= 0, got -1"),
        ({"search": {"method": "bayes"}}, r"unknown search method 'bayes'.*allowed: none, grid, random"),
        ({"search": "grid"}, r"'search' must be a table, got 'grid'"),
    ],
)
def test_bad_search_settings_are_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        _cfg(**raw)


def test_the_cli_refuses_a_bad_protocol_in_one_line(capsys, tmp_path):
    from qhybrid.hybrid.cli import main

    path = tmp_path / "exp.toml"
    path.write_text(f'protocol = "qmlb"\nmodels = ["svc"]\ndatasets = ["{QMLB}"]\n')
    code = main(["compare", "--config", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("qhybrid: error: ") and "unknown protocol 'qmlb'" in err[0]
    assert not (tmp_path / "out").exists()


def test_fingerprint_follows_the_protocol_and_its_settings():
    # the same search written out by hand: only the protocol's raw features differ
    by_hand = {
        "seeds": 5,
        "search": {
            "method": "grid",
            "cv": 5,
            "scoring": ["accuracy", "roc_auc"],
            "random_state": 42,
            "space": {"svc": {"gamma": [0.001, 0.01, 0.1, 1.0], "C": [0.1, 1.0, 10.0, 100.0]}},
        },
    }
    proto, plain = _cfg(protocol="qml-benchmarks"), _cfg(**by_hand)
    assert proto.search == plain.search and proto.seeds == plain.seeds
    assert proto.fingerprint("svc") != plain.fingerprint("svc")
    assert proto.fingerprint("svc") == _cfg(protocol="qml-benchmarks").fingerprint("svc")
    shuffled = _cfg(protocol="qml-benchmarks", search={"shuffle": True})
    auc_only = _cfg(protocol="qml-benchmarks", search={"scoring": ["roc_auc"]})
    assert len({c.fingerprint("svc") for c in (proto, shuffled, auc_only)}) == 3
    assert auc_only.search["refit"] == "roc_auc"  # the protocol's accuracy is not among the scorers
    assert {c.key for c in grid(proto)}.isdisjoint(c.key for c in grid(plain))
    assert proto.to_dict()["protocol"] == "qml-benchmarks"


# ------------------------------------------------------------------------------------------ searches


def test_unshuffled_folds_are_the_same_for_every_seed():
    y = np.array([0, 1] * 20)
    X = np.zeros((40, 1))
    search = {"cv": 5, "shuffle": False}
    splits = [[test.tolist() for _, test in cv_splitter(search, seed).split(X, y)] for seed in (0, 1)]
    reference = [test.tolist() for _, test in StratifiedKFold(5).split(X, y)]
    assert splits[0] == splits[1] == reference
    shuffled = [
        [t.tolist() for _, t in cv_splitter({**search, "shuffle": True}, s).split(X, y)] for s in (0, 1)
    ]
    assert shuffled[0] != shuffled[1] and shuffled[0] != reference
    # the search's own random_state fixes shuffled folds across seeds
    fixed = {**search, "shuffle": True, "random_state": 3}
    assert [t.tolist() for _, t in cv_splitter(fixed, 0).split(X, y)] == [
        t.tolist() for _, t in cv_splitter(fixed, 1).split(X, y)
    ]


def _search_records(shuffle: bool) -> list[dict]:
    cfg = parse_config(
        {
            "models": ["svc"],
            "datasets": ["moons"],
            "seeds": 3,
            "data": {"n_samples": 80},
            "search": {
                "method": "grid",
                "cv": 4,
                "shuffle": shuffle,
                "space": {"svc": {"C": [0.1, 1.0, 10.0]}},
            },
        }
    )
    records = [run_cell(cell, cfg) for cell in grid(cfg)]
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    return records


def test_unshuffled_search_picks_the_same_setting_for_every_seed():
    records = _search_records(shuffle=False)
    assert len({repr(r["best_params"]) for r in records}) == 1
    # the same folds, the same fold scores
    assert len({repr([c["split_accuracy"] for c in r["cv_results"]]) for r in records}) == 1
    shuffled = _search_records(shuffle=True)
    folds = [[c["split_accuracy"] for c in r["cv_results"]] for r in shuffled]
    assert folds[0] != folds[1] != folds[2]


def test_every_scorer_is_reported_and_refit_picks_by_the_named_one():
    data = load_dataset(QMLB, n_samples=120)
    space = {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}
    picked = {}
    for refit in ("accuracy", "roc_auc"):
        cfg = _cfg(
            data={"n_samples": 120},
            seeds=1,
            search={
                "method": "grid",
                "cv": 3,
                "scoring": ["accuracy", "roc_auc"],
                "refit": refit,
                "space": {"svc": space},
            },
        )
        (rec,) = [run_cell(cell, cfg) for cell in grid(cfg)]
        assert rec["status"] == "ok", rec.get("error")
        reference = GridSearchCV(
            make_model("svc"), space, cv=StratifiedKFold(3), scoring=["accuracy", "roc_auc"], refit=refit
        ).fit(data.X_train, data.y_train)
        assert rec["best_params"] == reference.best_params_
        assert rec["cv_score"] == pytest.approx(reference.best_score_)
        best = reference.best_index_
        for name in ("accuracy", "roc_auc"):
            assert rec["cv_scores"][name] == pytest.approx(reference.cv_results_[f"mean_test_{name}"][best])
            assert rec["cv_scores_std"][name] == pytest.approx(
                reference.cv_results_[f"std_test_{name}"][best]
            )
        assert set(rec["test_scores"]) == {"accuracy", "roc_auc"}
        assert rec["test_scores"]["accuracy"] == pytest.approx(rec["test_accuracy"])
        assert len(rec["cv_results"]) == 5 and len(rec["cv_results"][0]["split_roc_auc"]) == 3
        picked[refit] = rec["best_params"]["C"]
    # on these folds a tiny C ranks the samples best but misclassifies many: the two scorers disagree
    assert picked == {"accuracy": 1.0, "roc_auc": 0.01}


def test_settings_that_cannot_work_on_the_data_fail_the_cell_before_the_search():
    too_many_folds = parse_config(
        {
            "models": ["svc"],
            "datasets": ["moons"],
            "seeds": 1,
            "data": {"n_samples": 12},
            "search": {"method": "grid", "cv": 8, "space": {"svc": {"C": [1.0]}}},
        }
    )
    (rec,) = [run_cell(cell, too_many_folds) for cell in grid(too_many_folds)]
    assert rec["status"] == "error"
    assert "search.cv = 8 folds need at least 8 training samples of each class" in rec["error"]
    multiclass = parse_config(
        {
            "models": ["svc"],
            "datasets": ["iris"],
            "seeds": 1,
            "search": {"method": "grid", "scoring": ["accuracy", "roc_auc"], "space": {"svc": {"C": [1.0]}}},
        }
    )
    (rec,) = [run_cell(cell, multiclass) for cell in grid(multiclass)]
    assert rec["status"] == "error" and "'roc_auc' is defined for two classes; 'iris' has 3" in rec["error"]


# ------------------------------------------------------------------------------------- the study's figure


def test_protocol_run_reproduces_the_studys_svc_and_reports_it(tmp_path):
    """qml-benchmarks Fig. (linearly separable, d = 10): SVC test accuracy 0.983 with the study's protocol."""
    cfg = _cfg(protocol="qml-benchmarks", models=["svc", "logreg"], seeds=[0, 1])
    search_module._CACHE.clear()  # this process may have run the same search already
    records = Runner(cfg, tmp_path, progress=False).run()
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    svc = [r for r in records if r["model"] == "svc"]
    assert [r["search_reused"] for r in svc] == [False, True]  # one search, refit with each seed
    assert all(r["best_params"] == {"C": 100.0, "gamma": 0.001} for r in svc)
    assert all(
        r["protocol"] == "qml-benchmarks" and r["data_settings"] == {"standardize": False} for r in svc
    )
    assert all(r["search"]["cv"] == 5 and r["search"]["shuffle"] is False for r in svc)
    assert np.mean([r["test_accuracy"] for r in svc]) == pytest.approx(59 / 60)  # published: 0.983
    logreg = next(r for r in records if r["model"] == "logreg")
    assert "best_params" not in logreg and "no grid for 'logreg'" in logreg["protocol_notes"][0]
    assert set(logreg["test_scores"]) == {"accuracy", "roc_auc"}

    report = render_report(tmp_path, plots=False)
    assert report["protocol"].startswith("protocol qml-benchmarks: grid search, 5-fold unshuffled")
    assert "test roc_auc" in report["table"] and report["table"].startswith("protocol qml-benchmarks")
    row = next(r for r in report["rows"] if r["model"] == "svc")
    assert row["test_accuracy_mean"] == pytest.approx(59 / 60) and row["test_roc_auc_mean"] == pytest.approx(
        1.0
    )
    md = (tmp_path / "summary.md").read_text()
    assert "Protocol qml-benchmarks: grid search" in md and "## Hyper-parameter search" in md
    assert md.count("| C=100.0, gamma=0.001 |") == 2
    assert "`logreg`: the qml-benchmarks study has no grid for 'logreg'" in md
    csv_header = (tmp_path / "summary.csv").read_text().splitlines()[0]
    assert "test_roc_auc_mean" in csv_header


def test_protocol_line_of_a_folder_written_before_shuffle_existed():
    # such searches always shuffled and named their one scorer as a string
    old = {"method": "grid", "cv": 3, "n_iter": 5, "scoring": "accuracy"}
    assert describe(None, old, [0, 1]) == (
        "no protocol: grid search, 3-fold shuffled stratified CV on the training part, scoring accuracy, "
        "best by accuracy; each seed searches with its own seed; seeds 0, 1"
    )
