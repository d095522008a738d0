"""Evaluation protocols: how a comparison searches, scores and seeds its cells.

An experiment's ``[search]`` table takes, besides ``method``, ``n_iter`` and ``space``:

* ``cv``: folds of the stratified cross-validation on the training part (default 3);
* ``shuffle``: shuffle the samples before cutting the folds (default ``false``: the folds are the
  training part cut in order, as scikit-learn's ``GridSearchCV(cv=5)`` cuts them, so every seed of a cell
  sees the same folds; with ``true`` the folds are drawn with the seed);
* ``scoring``: a scikit-learn scorer name or a list of them (``sklearn.metrics.get_scorer_names()``); every
  one is computed on each fold and on the test split, and reported;
* ``refit``: the scorer whose mean over the folds picks the best setting; one of ``scoring`` (default
  ``"accuracy"`` when it is among them, else the first);
* ``random_state``: one seed for the whole search (the estimator's own random choices while it is searched,
  the shuffled folds, the random search's draws), so that every seed of a cell refits the same best setting
  with its own ``random_state``; without it each seed searches with its own seed.

A top-level ``protocol = "qml-benchmarks"`` sets the choices of the qml-benchmarks study (Bowles, Ahmed &
Schuld, arXiv:2403.07059; its ``scripts/run_hyperparameter_search.py`` and
``score_with_best_hyperparameters.py``) in one line:

* a grid search (``method = "grid"``) over the study's grid of each model (:data:`STUDY_GRIDS`, in the
  study's own parameter names, mapped onto ours by :data:`STUDY_MODELS`);
* 5 unshuffled folds, scoring ``accuracy`` and ``roc_auc``, the best setting picked by ``accuracy``;
* the search run once (``random_state = 42``, the default seed of the study's quantum models), its best
  setting refit with ``random_state`` 0 to 4 (``seeds = 5``) and scored on the test split; the report gives
  the mean over these seeds;
* raw features for the study's data sets (``qmlb:`` and ``qmlb-gen:``: no standardisation; the study
  generated them in their final ranges). Other data sets keep ``[data]``'s standardisation;
* the study's training of its variational models (``dressed``, ``drc``, ``iqp``, the separable controls
  ``dressed-sep`` and ``drc-sep``, and ``sepv``; :data:`STUDY_TRAINING`; ``dqc-study`` and ``drc-study``,
  the study's own circuits, default to the same training): Adam on batches of 32 until its
  convergence criterion holds (``convergence = "qml-benchmarks"``, :mod:`qhybrid.classical.training.convergence`),
  at most the study's ``max_steps`` optimiser steps (100 000 for the dressed circuit, 10 000 for the others),
  in the search's fits as in the final ones. The torch ``mlp`` keeps its epochs: the study's MLP is
  scikit-learn's, which stops by its own rule (that is ``mlp-sk``).

Every key written in the file wins over the protocol's default: ``seeds``, any ``[search]`` key, a model's
whole grid under ``[search.space.<model>]``, ``[data] standardize``. A parameter fixed under
``[params.<model>]`` or ``[variants.<label>]`` stays fixed and is left out of the study's grid; so do
``convergence`` and ``max_steps`` there (``convergence = "none"`` trains a variational model for its
``max_epochs``). A model the study has no grid for (``logreg``, ``vqc``, ...) is trained with its own
parameters and noted in its record and the report, as is a study parameter that has no counterpart in
qhybrid's model (``observable_type`` of ``drc``, which ``drc-study`` takes, ``repeats`` of the IQP variational
classifier). The study's ``max_vmap`` is the batch size of its JAX vectorisation, not a model setting,
and is left out.

>>> grid, notes = study_grid("qml-benchmarks", "svc", {})
>>> grid["C"], grid["gamma"]
([0.1, 1.0, 10.0, 100.0], [0.001, 0.01, 0.1, 1.0])
>>> training_params("qml-benchmarks", "dressed", {"n_layers": 5})
{'n_layers': 5, 'convergence': 'qml-benchmarks', 'max_steps': 100000}
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = [
    "PROTOCOLS",
    "STUDY_GRIDS",
    "STUDY_MODELS",
    "check_protocol",
    "data_options",
    "describe",
    "grid_notes",
    "protocol_seeds",
    "resolve_search",
    "study_grid",
    "training_params",
]

QML_BENCHMARKS = "qml-benchmarks"

#: protocol -> the defaults it sets (``seeds`` and ``[search]`` keys); explicit keys in the file win
PROTOCOLS: dict[str, dict[str, Any]] = {
    QML_BENCHMARKS: {
        "seeds": [0, 1, 2, 3, 4],
        "search": {
            "method": "grid",
            "cv": 5,
            "shuffle": False,
            "scoring": ["accuracy", "roc_auc"],
            "refit": "accuracy",
            "random_state": 42,
        },
    },
}

# without a protocol
_DEFAULT_SEARCH = {"method": "none", "cv": 3, "n_iter": 5, "shuffle": False, "scoring": ["accuracy"]}
_SEARCH_METHODS = ("none", "grid", "random")

#: the study's grids (``hyperparameter_settings.py``), in its own class and parameter names
STUDY_GRIDS: dict[str, dict[str, list]] = {
    "SVC": {"gamma": [0.001, 0.01, 0.1, 1.0], "C": [0.1, 1.0, 10.0, 100.0]},
    "MLPClassifier": {
        "batch_size": [32],
        "learning_rate_init": [0.001, 0.01, 0.1],
        "hidden_layer_sizes": [(100,), (10, 10, 10, 10), (50, 10, 5)],
        "alpha": [0.01, 0.001, 0.0001],
    },
    "DressedQuantumCircuitClassifier": {
        "batch_size": [32],
        "learning_rate": [0.001, 0.01, 0.1],
        "n_layers": [1, 5, 10, 15],
    },
    "DataReuploadingClassifier": {
        "batch_size": [32],
        "learning_rate": [0.001, 0.01, 0.1],
        "n_layers": [1, 5, 10, 15],
        "observable_type": ["single", "half", "full"],
    },
    "IQPVariationalClassifier": {
        "batch_size": [32],
        "learning_rate": [0.001, 0.01, 0.1],
        "repeats": [1, 5, 10],
        "n_layers": [1, 5, 10, 15],
    },
    "IQPKernelClassifier": {"repeats": [1, 5, 10], "C": [0.1, 1.0, 10.0, 100.0]},
    "ProjectedQuantumKernel": {
        "gamma_factor": [0.1, 1.0, 10.0],
        "C": [0.1, 1.0, 10.0, 100.0],
        "trotter_steps": [1, 3, 5],
        "t": [0.01, 0.1, 1.0],
    },
    "SeparableKernelClassifier": {"C": [0.1, 1.0, 10.0, 100.0], "encoding_layers": [1, 3, 5, 10]},
    "SeparableVariationalClassifier": {
        "batch_size": [32],
        "learning_rate": [0.001, 0.01, 0.1],
        "encoding_layers": [1, 3, 5, 10],
    },
}
# the separable controls have the same grids as their entangled models
STUDY_GRIDS["DressedQuantumCircuitClassifierSeparable"] = STUDY_GRIDS["DressedQuantumCircuitClassifier"]
STUDY_GRIDS["DataReuploadingClassifierSeparable"] = STUDY_GRIDS["DataReuploadingClassifier"]

_TORCH = {"learning_rate": "lr"}  # qhybrid's torch models call the learning rate lr
#: registry name -> (the study's class, {the study's parameter name: ours, where it differs})
STUDY_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "svc": ("SVC", {}),
    "mlp-sk": ("MLPClassifier", {}),
    "mlp": ("MLPClassifier", {"learning_rate_init": "lr", "hidden_layer_sizes": "hidden"}),
    "dressed": ("DressedQuantumCircuitClassifier", _TORCH),
    "dressed-sep": ("DressedQuantumCircuitClassifierSeparable", _TORCH),
    "drc": ("DataReuploadingClassifier", _TORCH),
    "drc-sep": ("DataReuploadingClassifierSeparable", _TORCH),
    "iqp": ("IQPVariationalClassifier", _TORCH),
    "iqp-kernel": ("IQPKernelClassifier", {}),
    "pqk": ("ProjectedQuantumKernel", {}),
    "sep-kernel": ("SeparableKernelClassifier", {}),
    "sepv": ("SeparableVariationalClassifier", _TORCH),
    "dqc-study": ("DressedQuantumCircuitClassifier", _TORCH),
    "drc-study": ("DataReuploadingClassifier", _TORCH),
}

#: registry name -> the study's max_steps for its model (the defaults in its code); under the protocol these
#: models train with its convergence criterion, stopped at this many optimiser steps if it never holds
STUDY_TRAINING: dict[str, int] = {
    "dressed": 100_000,
    "dressed-sep": 100_000,
    "drc": 10_000,
    "drc-sep": 10_000,
    "iqp": 10_000,
    "sepv": 10_000,
}
_CONVERGENCE = "qml-benchmarks"  # the criterion's name in the models' ``convergence``

_STUDY_DATA = ("qmlb:", "qmlb-gen:")
# scorers defined for two classes only: on more they fail inside the search
_BINARY_SCORERS = (
    "roc_auc",
    "average_precision",
    "f1",
    "precision",
    "recall",
    "jaccard",
    "positive_likelihood_ratio",
    "neg_negative_likelihood_ratio",
)


def _fail(msg: str) -> None:
    raise ValueError(msg)


def check_protocol(value: Any) -> str | None:
    """The top-level ``protocol`` of an experiment: ``None`` (absent) or one of :data:`PROTOCOLS`."""
    if value is None or value in PROTOCOLS:
        return value
    _fail(f"unknown protocol {value!r} in 'protocol'; allowed: {', '.join(PROTOCOLS)} (or leave it out)")


def protocol_seeds(protocol: str | None) -> int | list[int]:
    """The ``seeds`` an experiment gets when its file names none."""
    return list(PROTOCOLS[protocol]["seeds"]) if protocol else 3


def _model_params(registry_name: str) -> set[str]:
    from qhybrid.hybrid.models import make_model

    return set(make_model(registry_name).get_params(deep=False))


def _study_grid(registry_name: str, fixed: dict[str, Any]) -> tuple[dict[str, list], list[str]]:
    if registry_name not in STUDY_MODELS:
        return {}, [
            f"the qml-benchmarks study has no grid for {registry_name!r}: trained with its own parameters, "
            "not searched"
        ]
    study_class, renames = STUDY_MODELS[registry_name]
    ours = _model_params(registry_name)
    grid, notes = {}, []
    for name, values in STUDY_GRIDS[study_class].items():
        key = renames.get(name, name)
        if key not in ours:
            notes.append(f"the study's {study_class} also searches {name!r}, which {registry_name!r} lacks")
        elif key in fixed:
            notes.append(f"{key!r} is fixed at {fixed[key]!r} by the experiment, not searched")
        else:
            grid[key] = list(values)
    return grid, notes


def study_grid(protocol: str, registry_name: str, fixed: dict[str, Any]) -> tuple[dict[str, list], list[str]]:
    """The protocol's grid for a registered model, in the model's parameter names, without the parameters
    in ``fixed`` (set by the experiment), and notes on what was left out."""
    check_protocol(protocol)
    return _study_grid(registry_name, fixed)


def training_params(protocol: str | None, registry_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (a model's fixed constructor arguments) with the protocol's training added: for the study's
    variational models :data:`STUDY_TRAINING` under ``qml-benchmarks`` gives ``convergence`` and, where the
    model then trains to convergence, ``max_steps``, each unless ``params`` sets it."""
    if protocol != QML_BENCHMARKS or registry_name not in STUDY_TRAINING:
        return dict(params)
    out = {**params, "convergence": params.get("convergence", _CONVERGENCE)}
    if out["convergence"] == _CONVERGENCE:
        out.setdefault("max_steps", STUDY_TRAINING[registry_name])
    return out


def grid_notes(protocol: str | None, search: dict[str, Any], label: str, spec: tuple[str, dict]) -> list[str]:
    """What the protocol left out for the model ``label`` (empty without a protocol, or where the
    experiment gives the model's grid itself)."""
    if not protocol or search.get("method") == "none":
        return []
    grid, notes = _study_grid(*spec)
    return notes if search.get("space", {}).get(label, {}) == grid else []


def _check_scoring(value: Any) -> list[str]:
    from sklearn.metrics import get_scorer_names

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        _fail(f"search.scoring must be a scorer name or a non-empty list of them, got {value!r}")
    allowed = get_scorer_names()
    for name in names:
        if name not in allowed:
            starts = [n for n in allowed if n.startswith(name)]
            close = list(dict.fromkeys([*starts, *difflib.get_close_matches(name, allowed)]))[:3]
            hint = f"did you mean {', '.join(close)}? " if close else ""
            _fail(
                f"unknown scorer {name!r} in search.scoring; {hint}allowed: a scikit-learn scorer name "
                "such as accuracy, balanced_accuracy, f1, roc_auc, neg_log_loss "
                "(all: sklearn.metrics.get_scorer_names())"
            )
        if names.count(name) > 1:
            _fail(f"search.scoring names {name!r} twice; each scorer may appear once")
    return list(names)


def _check_int(search: dict, key: str, low: int) -> None:
    value = search[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(f"search.{key} must be an int >= {low}, got {value!r}")


def _check_settings(search: dict[str, Any], default_refit: str | None) -> None:
    if search["method"] not in _SEARCH_METHODS:
        _fail(
            f"unknown search method {search['method']!r} in [search]; allowed: {', '.join(_SEARCH_METHODS)}"
        )
    _check_int(search, "cv", 2)
    _check_int(search, "n_iter", 1)
    if not isinstance(search["shuffle"], bool):
        _fail(f"search.shuffle must be true or false, got {search['shuffle']!r}")
    search["scoring"] = _check_scoring(search["scoring"])
    if "refit" not in search:
        search["refit"] = default_refit if default_refit in search["scoring"] else search["scoring"][0]
    if not isinstance(search["refit"], str) or search["refit"] not in search["scoring"]:
        _fail(
            f"search.refit = {search['refit']!r} must be one of search.scoring "
            f"({', '.join(search['scoring'])}): the scorer that picks the best setting"
        )
    if "random_state" in search:
        _check_int(search, "random_state", 0)


def resolve_search(
    raw_search: dict[str, Any], protocol: str | None, specs: dict[str, tuple[str, dict]]
) -> dict[str, Any]:
    """The search settings of an experiment: the protocol's defaults (or qhybrid's), overridden by the
    file's ``[search]`` keys, checked; ``space`` gets the protocol's grid for every model the file gives
    none."""
    defaults = PROTOCOLS[protocol]["search"] if protocol else {}
    search = {**_DEFAULT_SEARCH, **{k: v for k, v in defaults.items() if k != "refit"}, **raw_search}
    _check_settings(search, defaults.get("refit", "accuracy"))
    space = {label: dict(grid) for label, grid in raw_search.get("space", {}).items()}
    if protocol and search["method"] != "none":
        for label, (registry_name, params) in specs.items():
            if label not in space:
                grid = _study_grid(registry_name, params)[0]
                if grid:
                    space[label] = grid
    elif search["method"] != "none" and not space:
        _fail("search.method is not 'none' but search.space names no model to tune")
    search["space"] = space
    return search


def data_options(protocol: str | None, dataset: str, data: dict[str, Any]) -> dict[str, Any]:
    """The ``load_dataset`` options of ``dataset`` in an experiment with ``[data]`` = ``data``: under
    ``qml-benchmarks`` the study's data sets keep their raw features unless ``[data]`` says otherwise."""
    if protocol == QML_BENCHMARKS and dataset.startswith(_STUDY_DATA) and "standardize" not in data:
        return {**data, "standardize": False}
    return dict(data)


def check_search_data(search: dict[str, Any], y, dataset: str) -> None:
    """Refuse, before the search, settings that cannot work on a training part with labels ``y``: more
    folds than the smallest class has samples, or a two-class scorer on more classes."""
    import numpy as np

    _, counts = np.unique(np.asarray(y), return_counts=True)
    if search["cv"] > counts.min():
        _fail(
            f"search.cv = {search['cv']} folds need at least {search['cv']} training samples of each class; "
            f"the smallest class of {dataset!r} has {counts.min()}"
        )
    if len(counts) > 2:
        for name in search["scoring"]:
            if name in _BINARY_SCORERS:
                _fail(
                    f"search.scoring {name!r} is defined for two classes; {dataset!r} has {len(counts)} "
                    f"(use e.g. roc_auc_ovr, f1_macro)"
                )


def describe(protocol: str | None, search: dict[str, Any], seeds: list[int]) -> str:
    """One sentence saying how the cells were searched, scored and seeded (the report's protocol line)."""
    parts = [_describe_search(search), f"seeds {', '.join(map(str, seeds))}"]
    if protocol == QML_BENCHMARKS:
        parts.append("raw features for the study's data sets (qmlb:, qmlb-gen:)")
        parts.append("its variational models trained until its convergence criterion holds")
    return f"{f'protocol {protocol}' if protocol else 'no protocol'}: {'; '.join(parts)}"


def _describe_search(search: dict[str, Any]) -> str:
    if search.get("method", "none") == "none":
        return "no hyper-parameter search"
    # a search written before ``shuffle`` existed always shuffled, and scored one scorer given as a string
    folds = f"{search['cv']}-fold {'shuffled' if search.get('shuffle', True) else 'unshuffled'} stratified CV"
    how = "grid search" if search["method"] == "grid" else f"random search ({search['n_iter']} draws)"
    scoring = search.get("scoring", "accuracy")
    scoring = scoring if isinstance(scoring, str) else ", ".join(scoring)
    once = (
        f"searched once with random_state {search['random_state']}, the best setting refit with each seed"
        if "random_state" in search
        else "each seed searches with its own seed"
    )
    return f"{how}, {folds} on the training part, scoring {scoring}, best by {search.get('refit', scoring)}; {once}"
