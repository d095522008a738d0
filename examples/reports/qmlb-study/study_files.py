"""Read the qml-benchmarks study's result files copied into ``study-results/`` (see its README.md).

Two kinds of file, named as in the study's repository (``paper/results/<set>/<Model>/``):

* ``<Model>_<set>_GridSearchCV-best-hyperparams-results.csv``: one row per refit of the best setting
  (``train_acc``, ``test_acc``); the published test accuracy is the mean of ``test_acc``.
* ``<Model>_<set>_GridSearchCV.csv``: scikit-learn's ``cv_results_`` of the 5-fold grid search, one row
  per setting; ``mean_fit_time`` is that setting's mean over its 5 folds of the seconds one fit took.
"""

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "study-results"

#: The report's short model name -> the study's class name (the prefix of its file names).
STUDY_MODELS = {
    "SVC": "SVC",
    "MLP": "MLPClassifier",
    "IQPKernel": "IQPKernelClassifier",
    "PQK": "ProjectedQuantumKernel",
    "SepK": "SeparableKernelClassifier",
    "SepV": "SeparableVariationalClassifier",
    "DRC": "DataReuploadingClassifier",
    "DQC": "DressedQuantumCircuitClassifier",
}


def refit_file(model: str, dataset: str) -> Path:
    """The file of the test accuracies of ``model``'s best setting on ``dataset``, refit per seed."""
    return RESULTS / f"{STUDY_MODELS[model]}_{dataset}_GridSearchCV-best-hyperparams-results.csv"


def search_file(model: str, dataset: str) -> Path:
    """The file of ``model``'s grid search on ``dataset`` (one row per setting)."""
    return RESULTS / f"{STUDY_MODELS[model]}_{dataset}_GridSearchCV.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def refit_accuracies(model: str, dataset: str) -> list[float]:
    """The test accuracy of each refit of the best setting, in the file's order."""
    return [float(row["test_acc"]) for row in _rows(refit_file(model, dataset))]


def published_accuracy(model: str, dataset: str) -> float:
    """The published figure: the mean test accuracy over the refits of the best setting."""
    return statistics.mean(refit_accuracies(model, dataset))


@dataclass(frozen=True)
class FitTimes:
    """The seconds one fit took per fold in a grid search (``mean_fit_time``, one value per setting)."""

    per_setting: list[float]
    #: how many settings lack the test accuracy of some fold (an empty ``split<i>_test_accuracy``)
    unscored: int
    #: (the setting's grid parameters that vary, its ``mean_fit_time``) for each setting ranked 1st
    #: on accuracy (``rank_test_accuracy``), in the file's order
    rank1: list[tuple[dict[str, str], float]]

    @property
    def mean(self) -> float:
        """The mean over the grid's settings."""
        return statistics.mean(self.per_setting)


def fit_times(model: str, dataset: str) -> FitTimes:
    """``model``'s seconds per fit and fold in its grid search on ``dataset``."""
    rows = _rows(search_file(model, dataset))
    params = [k for k in rows[0] if k.startswith("param_") and len({r[k] for r in rows}) > 1]
    rank1 = [
        ({k.removeprefix("param_"): r[k] for k in params}, float(r["mean_fit_time"]))
        for r in rows
        if int(r["rank_test_accuracy"]) == 1
    ]
    splits = [k for k in rows[0] if k.startswith("split") and k.endswith("_test_accuracy")]
    unscored = sum(any(not r[k] for k in splits) for r in rows)
    return FitTimes([float(r["mean_fit_time"]) for r in rows], unscored, rank1)
