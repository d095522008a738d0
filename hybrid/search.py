"""The hyper-parameter search of one cell, as its experiment's ``[search]`` settings (and protocol) say.

:func:`run_search` cross-validates a grid or random search on the training part with scikit-learn and
returns what the cell's record keeps of it: the best setting, the mean and standard deviation over the
folds of every scorer for it, and the fold scores of every candidate (``cv_results``). Where the search has
its own ``random_state`` it does not depend on the cell's seed, so the cells that differ only in their seed
share one search in a process (``search_reused`` in their records).

>>> search = {"method": "grid", "cv": 3, "shuffle": False, "scoring": ["accuracy"], "refit": "accuracy"}
>>> cv_splitter(search, seed=7).shuffle, cv_splitter({**search, "shuffle": True}, seed=7).random_state
(False, 7)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold

__all__ = ["cv_splitter", "make_search", "run_search", "score_all"]

# (model, data set, platform, fingerprint) -> the search's record fields, for seed-independent searches
_CACHE: dict[tuple[str, ...], dict[str, Any]] = {}


def cv_splitter(search: dict[str, Any], seed: int) -> StratifiedKFold:
    """Stratified folds: cut in order (``shuffle`` false, the same for every seed), or shuffled with the
    search's ``random_state`` or else the cell's ``seed``."""
    if not search.get("shuffle", False):
        return StratifiedKFold(n_splits=search["cv"])
    return StratifiedKFold(n_splits=search["cv"], shuffle=True, random_state=search.get("random_state", seed))


def make_search(estimator, space: dict[str, list], search: dict[str, Any], seed: int):
    """An unfitted ``GridSearchCV`` / ``RandomizedSearchCV`` computing every scorer of ``search`` on each
    fold. It does not refit: the runner refits the best setting with the cell's own seed."""
    if "random_state" in search and "random_state" in estimator.get_params(deep=False):
        estimator = clone(estimator).set_params(random_state=search["random_state"])
    common = {
        "cv": cv_splitter(search, seed),
        "scoring": list(search["scoring"]),
        "refit": False,
        "error_score": "raise",
    }
    if search["method"] == "grid":
        return GridSearchCV(estimator, space, **common)
    return RandomizedSearchCV(
        estimator,
        space,
        n_iter=search["n_iter"],
        random_state=search.get("random_state", seed),
        **common,
    )


def _best_index(results: dict[str, Any], refit: str) -> int:
    # scikit-learn's own choice for refit=<name>: the first candidate of rank 1
    return int(np.asarray(results[f"rank_test_{refit}"]).argmin())


def _candidates(results: dict[str, Any], scoring: list[str], n_splits: int) -> list[dict[str, Any]]:
    rows = []
    for i, params in enumerate(results["params"]):
        row: dict[str, Any] = {"params": dict(params), "mean_fit_seconds": float(results["mean_fit_time"][i])}
        for name in scoring:
            row[f"mean_{name}"] = float(results[f"mean_test_{name}"][i])
            row[f"std_{name}"] = float(results[f"std_test_{name}"][i])
            row[f"rank_{name}"] = int(results[f"rank_test_{name}"][i])
            row[f"split_{name}"] = [float(results[f"split{k}_test_{name}"][i]) for k in range(n_splits)]
        rows.append(row)
    return rows


def _fields(fitted, search: dict[str, Any]) -> dict[str, Any]:
    results, scoring = fitted.cv_results_, list(search["scoring"])
    best = _best_index(results, search["refit"])
    return {
        "best_params": dict(results["params"][best]),
        "cv_score": float(results[f"mean_test_{search['refit']}"][best]),
        "cv_scores": {name: float(results[f"mean_test_{name}"][best]) for name in scoring},
        "cv_scores_std": {name: float(results[f"std_test_{name}"][best]) for name in scoring},
        "cv_results": _candidates(results, scoring, fitted.n_splits_),
    }


def run_search(
    estimator,
    space: dict[str, list],
    search: dict[str, Any],
    seed: int,
    X,
    y,
    *,
    key: tuple[str, ...],
    dataset: str,
) -> dict[str, Any]:
    """Search ``space`` on ``(X, y)`` (the training part) and return the record fields: ``best_params``,
    ``cv_score`` (the ``refit`` scorer), ``cv_scores`` / ``cv_scores_std`` (every scorer, best setting),
    ``cv_results`` (every candidate), ``search_seconds`` and ``search_reused``. ``key`` names the cell
    without its seed; a search with its own ``random_state`` is run once per key in a process."""
    from qhybrid.hybrid.protocols import check_search_data

    shared = "random_state" in search
    if shared and key in _CACHE:
        return {**_CACHE[key], "search_reused": True}
    check_search_data(search, y, dataset)
    t0 = time.perf_counter()
    fitted = make_search(estimator, space, search, seed).fit(X, y)
    fields = {"search_seconds": time.perf_counter() - t0, **_fields(fitted, search)}
    if shared:
        _CACHE[key] = fields
    return {**fields, "search_reused": False}


def score_all(estimator, X, y, scoring: list[str]) -> dict[str, float]:
    """Every scorer of ``scoring`` for a fitted estimator on ``(X, y)`` (the test split)."""
    from sklearn.metrics import get_scorer

    return {name: float(get_scorer(name)(estimator, X, y)) for name in scoring}


# --------------------------------------------------------------------------------------------- report


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "-"


def _score_text(mean: float | None, std: float | None = None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.3f}" if std is None else f"{mean:.3f} ± {std:.3f}"


def search_table(records: list[dict[str, Any]], *, style: str = "markdown") -> str:
    """One row per searched cell: its best setting, every scorer's mean ± std over the folds for it, and
    every scorer on the test split. Empty where no cell was searched."""
    from qhybrid._tables import render_table

    searched = [r for r in records if r.get("status") == "ok" and "best_params" in r]
    if not searched:
        return ""
    names = list(
        dict.fromkeys(n for r in searched for n in (*r.get("cv_scores", {}), *r.get("test_scores", {})))
    )
    header = ["data set", "model", "platform", "seed", "best parameters"]
    header += [f"cv {n}" for n in names] + [f"test {n}" for n in names]
    body = []
    for r in searched:
        cv, cv_std, test = r.get("cv_scores", {}), r.get("cv_scores_std", {}), r.get("test_scores", {})
        body.append(
            [r["dataset"], r["model"], r["platform"], str(r["seed"]), _params_text(r["best_params"])]
            + [_score_text(cv.get(n), cv_std.get(n)) for n in names]
            + [_score_text(test.get(n)) for n in names]
        )
    return render_table(
        header, body, numeric=[h for h in header if h.startswith(("cv ", "test ", "seed"))], style=style
    )


def search_notes(records: list[dict[str, Any]]) -> list[str]:
    """The protocol's notes, once per model: what it did not search and why."""
    seen: dict[tuple[str, str], None] = {}
    for r in records:
        for note in r.get("protocol_notes", ()):
            seen[(r["model"], note)] = None
    return [f"`{model}`: {note}" for model, note in seen]
