"""The qml-benchmarks study's published figures in examples/reports/qmlb-study come from its result files."""

import ast
import csv
import importlib.util
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[1] / "examples" / "reports" / "qmlb-study"
_spec = importlib.util.spec_from_file_location("study_files", STUDY / "study_files.py")
study_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study_files)


def test_published_accuracies_are_the_mean_of_the_refits():
    assert study_files.refit_accuracies("SVC", "linearly_separable_10d") == pytest.approx(
        [0.98333] * 5, abs=1e-5
    )
    assert study_files.published_accuracy("SVC", "linearly_separable_10d") == pytest.approx(0.98333, abs=1e-5)
    assert study_files.published_accuracy("MLP", "hidden_manifold-6manifold-10d") == pytest.approx(
        0.84667, abs=1e-5
    )
    assert study_files.published_accuracy("SepV", "two_curves-10d-10degree") == pytest.approx(
        0.76167, abs=1e-4
    )
    assert study_files.published_accuracy("DQC", "two_curves-10d-10degree") == pytest.approx(
        0.94333, abs=1e-5
    )


def study_datasets() -> tuple[str, ...]:
    return (
        "linearly_separable_10d",
        "hidden_manifold-6manifold-10d",
        "two_curves-5degree-0.1offset-10d",
        "two_curves-10d-10degree",
    )


def test_every_figure_of_the_report_has_its_file():
    for dataset in (
        "linearly_separable_10d",
        "hidden_manifold-6manifold-10d",
        "two_curves-5degree-0.1offset-10d",
    ):
        for model in study_files.STUDY_MODELS:
            assert len(study_files.refit_accuracies(model, dataset)) == 5
    for model in ("DQC", "IQPKernel", "DRC"):
        assert study_files.search_file(model, "linearly_separable_10d").is_file()


def test_dqc_seconds_per_fold_are_the_mean_over_settings_and_the_rank_1_settings():
    times = study_files.fit_times("DQC", "linearly_separable_10d")
    assert len(times.per_setting) == 12
    assert times.unscored == 6
    assert times.mean == pytest.approx(1410.1, abs=0.1)
    assert [round(seconds, 1) for _, seconds in times.rank1] == [321.1, 751.4, 707.2]
    assert times.rank1[0][0] == {"learning_rate": "0.001", "n_layers": "1"}


def test_iqp_and_drc_seconds_per_fold():
    iqp = study_files.fit_times("IQPKernel", "linearly_separable_10d")
    assert iqp.mean == pytest.approx(177.6, abs=0.1)
    assert [round(s, 1) for _, s in iqp.rank1] == [135.5, 138.1]
    drc = study_files.fit_times("DRC", "linearly_separable_10d")
    assert [round(s, 1) for _, s in drc.rank1] == [72.5]


def test_published_py_types_no_figure():
    source = (STUDY / "published.py").read_text()
    floats = [
        n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and type(n.value) is float
    ]
    assert floats == [0.0]  # the default of a missing search time, no published figure
    for name in ("PUBLISHED", "STUDY_FOLD_SECONDS"):
        assert name not in source
    assert "published_accuracy(" in source and "fit_times(" in source


def test_d4_and_d6_figures_are_read_from_their_copied_files():
    path = study_files.RESULTS / "SVC_linearly_separable_4d_GridSearchCV-best-hyperparams-results.csv"
    assert study_files.refit_file("SVC", "linearly_separable_4d") == path
    with path.open(newline="") as f:
        test_acc = [float(row["test_acc"]) for row in csv.DictReader(f)]
    assert len(test_acc) == 5
    assert study_files.published_accuracy("SVC", "linearly_separable_4d") == pytest.approx(
        sum(test_acc) / len(test_acc)
    )
    for d in (4, 6):
        for dataset in (
            f"linearly_separable_{d}d",
            f"hidden_manifold-6manifold-{d}d",
            f"two_curves-5degree-0.1offset-{d}d",
        ):
            for model in ("SVC", "MLP", "IQPKernel", "PQK", "SepK"):
                assert len(study_files.refit_accuracies(model, dataset)) == 5
