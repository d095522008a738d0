"""Experiment configuration for the comparison runner: TOML files, validation, the built-in default.

An experiment is a grid ``models x data sets x platforms x seeds``. The platform of a quantum or hybrid model
is a simulator backend (``auto``, ``torch``, ``aer``, ``default``, ...), that of the torch ``mlp`` an accelerator (``cpu``,
``cuda``, ...); scikit-learn's ``svc`` and ``logreg`` run on ``cpu`` only. Example file::

    name = "qmlb-10d"
    models = ["mlp", "svc", "dressed", "drc", "dressed-sep", "dressed-q6"]
    datasets = ["qmlb:linearly_separable_10d", "qmlb:hidden_manifold-6manifold-10d"]
    backends = ["auto"]            # the torch engine for exact runs (its density twin under noise), Aer for shots
    accelerators = ["cpu"]
    seeds = 3                      # or a list: [0, 1, 2]

    [data]                         # passed to classical.load_dataset
    test_size = 0.25
    random_state = 0               # the data set stays fixed while the model seeds vary
    dtype = "float32"              # the features' dtype; "float64" keeps them exact

    [params.dressed]               # constructor arguments of a registered model
    max_epochs = 20

    [variants.dressed-q6]          # a new label for a registered model with other arguments
    model = "dressed"
    n_qubits = 6

    [search]                       # optional hyper-parameter search on the training part only
    method = "grid"                # "none", "grid" or "random"
    cv = 3                         # folds, unshuffled unless shuffle = true
    scoring = ["accuracy", "roc_auc"]  # every scorer is reported
    refit = "accuracy"             # the one that picks the best setting
    n_iter = 4                     # random search only
    [search.space.mlp]
    lr = [0.01, 0.001]

A top-level ``protocol = "qml-benchmarks"`` sets the study's folds, grids, scorers, seeds and raw features
in one line; keys written in the file win (:mod:`hybrid.protocols`).

Every error names the bad key or value and what is allowed, before any training starts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib

__all__ = ["ExperimentConfig", "default_config", "default_raw", "load_config", "parse_config", "read_toml"]

_TOP_KEYS = (
    "name",
    "models",
    "datasets",
    "backends",
    "accelerators",
    "seeds",
    "data",
    "params",
    "variants",
    "search",
    "protocol",
)
_DATA_KEYS = ("test_size", "random_state", "standardize", "n_samples", "n_features", "dtype")
_SEARCH_KEYS = ("method", "cv", "shuffle", "n_iter", "scoring", "refit", "random_state", "space")


@dataclass
class ExperimentConfig:
    """A validated experiment. ``models`` holds labels; ``model_specs[label]`` is ``(registry name,
    constructor arguments)``."""

    name: str
    models: list[str]
    datasets: list[str]
    backends: list[str]
    accelerators: list[str]
    seeds: list[int]
    data: dict[str, Any] = field(default_factory=dict)
    model_specs: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    protocol: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (written next to the results)."""
        return {
            "name": self.name,
            "models": list(self.models),
            "datasets": list(self.datasets),
            "backends": list(self.backends),
            "accelerators": list(self.accelerators),
            "seeds": list(self.seeds),
            "data": dict(self.data),
            "model_specs": {k: [v[0], dict(v[1])] for k, v in self.model_specs.items()},
            "search": copy.deepcopy(self.search),
            "protocol": self.protocol,
        }

    def platforms(self, label: str) -> list[str]:
        """Backends or accelerators the model ``label`` runs on in this experiment."""
        from qhybrid.hybrid.models import model_platform

        kind = model_platform(self.model_specs[label][0])
        return (
            list(self.backends)
            if kind == "backend"
            else list(self.accelerators)
            if kind == "accelerator"
            else ["cpu"]
        )

    def fingerprint(self, label: str) -> str:
        """A short hash of everything that shapes a cell's result besides its model/data set/platform/seed:
        every constructor argument of the model (defaults included, so a changed default in the code also
        counts), the data settings, the search and the protocol. A rerun with changed settings recomputes
        instead of reusing an old result."""
        from qhybrid.hybrid.models import make_model

        registry_name, params = self.model_specs[label]
        full = make_model(registry_name, **params).get_params(deep=False)
        full = {k: v for k, v in full.items() if k not in ("random_state", "backend", "accelerator")}
        search = {"method": self.search.get("method", "none")}
        if search["method"] != "none":
            search.update({k: v for k, v in self.search.items() if k != "space"})
            search["space"] = self.search.get("space", {}).get(label, {})
        parts = [registry_name, full, self.data, search]
        if self.protocol:  # it also decides the data options of its data sets
            parts.append(self.protocol)
        blob = json.dumps(parts, sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _fail(msg: str) -> None:
    raise ValueError(msg)


def _check_keys(table: dict, allowed: tuple[str, ...] | list[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            _fail(f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}")


def _str_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        _fail(f"{key!r} must be a non-empty list of names, got {value!r}")
    _no_repeats(value, key)
    return list(value)


def _no_repeats(values: list, key: str) -> None:
    seen = set()
    for v in values:
        if v in seen:
            _fail(f"{key!r} names {v!r} twice; each {key[:-1]} may appear once")
        seen.add(v)


def _check_backends(backends: list[str]) -> None:
    from qhybrid.qml import backend_choices

    allowed = backend_choices()
    for b in backends:
        if b not in allowed:
            _fail(f"unknown backend {b!r} in 'backends'; allowed: {', '.join(allowed)}")


def _check_accelerators(accelerators: list[str]) -> None:
    from qhybrid.classical.accelerators import available_accelerators, resolve_accelerator

    for a in accelerators:
        try:
            resolve_accelerator(a)
        except (ValueError, RuntimeError) as err:
            _fail(
                f"accelerator {a!r} in 'accelerators' cannot be used here ({err}); available: "
                f"{', '.join(['auto', *available_accelerators()])}"
            )


def _check_shots(specs: dict[str, tuple[str, dict]], backends: list[str]) -> None:
    """Sampling backends need shots and exact ones refuse them: each pairing checked against the backend's
    registry row."""
    from qhybrid.hybrid.models import model_family
    from qhybrid.qml.backends import check_backend_options

    for label, (registry_name, params) in specs.items():
        if model_family(registry_name) == "classical":
            continue
        for b in backends:
            try:
                check_backend_options(b, shots=params.get("shots"))
            except (TypeError, ValueError) as err:
                _fail(
                    f"model {label!r} cannot run on backend {b!r}: {err} (set its 'shots' under [params] or [variants])"
                )


def _check_model_params(label: str, registry_name: str, params: dict, where: str) -> None:
    from qhybrid.hybrid.models import make_model
    from qhybrid.hybrid.validation import check_param_types

    probe = make_model(registry_name)
    allowed = sorted(k for k in probe.get_params(deep=False) if k != "random_state")
    for key in params:
        if key not in allowed:
            _fail(
                f"unknown parameter {key!r} in {where} for model {registry_name!r}; allowed: {', '.join(allowed)}"
            )
    check_param_types(registry_name, params, where)
    try:
        est = make_model(registry_name, **params)
        if hasattr(est, "check_params"):
            est.check_params()
    except (TypeError, ValueError) as err:
        _fail(f"bad value in {where} for model {label!r}: {err}")


# [data] key -> (accepted types, what the message says); values are checked further by load_dataset
_DATA_TYPES = {
    "test_size": ((float, int), "a float in (0, 1)"),
    "random_state": ((int,), "a non-negative integer"),
    "standardize": ((bool,), "true or false"),
    "n_samples": ((int,), "an integer >= 4"),
    "n_features": ((int,), "a positive integer"),
    "dtype": ((str,), '"float32" or "float64"'),
}


def _check_data_types(data: dict) -> None:
    for key, value in data.items():
        types, allowed = _DATA_TYPES[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            from qhybrid.hybrid.validation import toml_value

            _fail(f"data.{key} = {toml_value(value)}: must be {allowed}")


def parse_config(raw: dict[str, Any], *, source: str = "config") -> ExperimentConfig:
    """Validate a configuration given as a dict (the parsed TOML) and return an :class:`ExperimentConfig`."""
    from qhybrid.hybrid.protocols import check_protocol, protocol_seeds, resolve_search, training_params

    if not isinstance(raw, dict):
        raise TypeError(f"{source}: a configuration must be a table (dict), got {type(raw).__name__}")
    _check_keys(raw, _TOP_KEYS, source)
    protocol = check_protocol(raw.get("protocol"))
    for key in ("models", "datasets"):
        if key not in raw:
            _fail(f"{source}: missing key {key!r} (required: models, datasets)")
    name = _parse_name(raw.get("name", "experiment"))
    models, specs = _parse_models(raw)
    specs = {label: (base, training_params(protocol, base, p)) for label, (base, p) in specs.items()}
    datasets = _parse_datasets(raw["datasets"])
    backends = _str_list(raw.get("backends", ["auto"]), "backends")
    _check_backends(backends)
    _check_shots(specs, backends)
    accelerators = _str_list(raw.get("accelerators", ["cpu"]), "accelerators")
    _check_accelerators(accelerators)
    seeds = _parse_seeds(raw.get("seeds", protocol_seeds(protocol)))
    data = _parse_data(raw.get("data", {}))
    search = resolve_search(_parse_search(raw.get("search", {}), models, specs), protocol, specs)
    return ExperimentConfig(
        name=name,
        models=models,
        datasets=datasets,
        backends=backends,
        accelerators=accelerators,
        seeds=seeds,
        data=data,
        model_specs=specs,
        search=search,
        protocol=protocol,
    )


def _parse_name(name: Any) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\"):
        _fail(f"'name' must be a non-empty string without slashes, got {name!r}")
    return name


def _tables(raw: dict, key: str) -> dict:
    table = raw.get(key, {})
    if not isinstance(table, dict):
        _fail(f"{key!r} must be a table of tables, got {table!r}")
    return table


def _parse_models(raw: dict) -> tuple[list[str], dict[str, tuple[str, dict]]]:
    """Model labels and ``label -> (registry name, constructor arguments)``, from ``models``, ``[params]``
    (arguments of registered models) and ``[variants]`` (new labels for registered models)."""
    from qhybrid.hybrid.models import model_names

    variants, params = _tables(raw, "variants"), _tables(raw, "params")
    registry = model_names()
    models = _str_list(raw["models"], "models")
    specs: dict[str, tuple[str, dict]] = {}
    for label in models:
        if label in variants:
            specs[label] = _variant_spec(label, variants[label], params, registry)
        elif label in registry:
            specs[label] = (label, dict(params.get(label, {})))
        else:
            _fail(
                f"unknown model {label!r} in 'models'; allowed: {', '.join(registry)} or a label defined "
                f"under [variants]"
            )
    for key in params:
        if key not in registry:
            _fail(f"unknown model {key!r} in [params]; allowed: {', '.join(registry)}")
        if not isinstance(params[key], dict):
            _fail(f"params.{key} must be a table of constructor arguments, got {params[key]!r}")
        _check_model_params(key, key, params[key], f"params.{key}")
    for key in variants:
        if key not in models:
            _fail(f"variant {key!r} is defined but not listed in 'models' ({', '.join(models)})")
        if key in registry:
            _fail(f"variant label {key!r} clashes with a registered model; pick another label")
    return models, specs


def _variant_spec(label: str, table: Any, params: dict, registry: list[str]) -> tuple[str, dict]:
    if not isinstance(table, dict) or "model" not in table:
        _fail(f"variant {label!r} needs a key 'model' naming one of: {', '.join(registry)}")
    base = table["model"]
    if base not in registry:
        _fail(f"unknown model {base!r} in variants.{label}.model; allowed: {', '.join(registry)}")
    own = {k: v for k, v in table.items() if k != "model"}
    _check_model_params(label, base, own, f"variants.{label}")
    return base, {**params.get(base, {}), **own}


def _parse_datasets(value: Any) -> list[str]:
    from qhybrid.classical.data import dataset_names

    allowed = dataset_names()
    datasets = _str_list(value, "datasets")
    for d in datasets:
        if d not in allowed:
            _fail(f"unknown data set {d!r} in 'datasets'; allowed: {', '.join(allowed)}")
    return datasets


def _parse_seeds(value: Any) -> list[int]:
    """A count ``n`` (seeds ``0 .. n-1``) or an explicit list of distinct non-negative ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            _fail(f"'seeds' must be a positive count or a list of ints, got {value}")
        return list(range(value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        _no_repeats(value, "seeds")
        return list(value)
    _fail(f"'seeds' must be a positive count or a non-empty list of non-negative ints, got {value!r}")


def _parse_data(data: Any) -> dict[str, Any]:
    """The ``[data]`` table, its types checked and its values tried on the smallest bundled set."""
    if not isinstance(data, dict):
        _fail(f"'data' must be a table, got {data!r}")
    _check_keys(data, _DATA_KEYS, "[data]")
    _check_data_types(data)
    if data:
        from qhybrid.classical.data import load_dataset

        try:  # validates types and ranges cheaply on the smallest bundled set
            load_dataset(
                "iris",
                **{
                    k: v
                    for k, v in data.items()
                    if k in ("test_size", "random_state", "standardize", "dtype")
                },
            )
        except (TypeError, ValueError) as err:
            _fail(f"bad value in [data]: {err}")
    return dict(data)


def _parse_search(search: Any, models: list[str], specs: dict) -> dict[str, Any]:
    """The ``[search]`` table as written (the protocol fills in the rest): its keys, and every grid value
    of ``[search.space.<model>]`` tried as that model's argument."""
    if not isinstance(search, dict):
        _fail(f"'search' must be a table, got {search!r}")
    _check_keys(search, _SEARCH_KEYS, "[search]")
    space = search.get("space", {})
    if not isinstance(space, dict):
        _fail(f"search.space must be a table of model tables, got {space!r}")
    for label, grid in space.items():
        if label not in specs:
            _fail(f"search.space.{label}: {label!r} is not in 'models' ({', '.join(models)})")
        if not isinstance(grid, dict) or not grid:
            _fail(f"search.space.{label} must be a non-empty table of parameter -> list of values")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                _fail(f"search.space.{label}.{key} must be a non-empty list of values, got {values!r}")
            _check_model_params(label, specs[label][0], {key: values[0]}, f"search.space.{label}")
    return search


def read_toml(path: str | Path) -> dict[str, Any]:
    """The raw table of a TOML experiment file (not yet validated)."""
    from qhybrid.hybrid.validation import read_text

    path = Path(path)
    text = read_text(path, "experiment file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML ({err})") from None


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a TOML experiment file."""
    return parse_config(read_toml(path), source=str(path))


def default_raw() -> dict[str, Any]:
    """The built-in experiment of ``qhybrid compare`` as a raw dict: the qml-benchmarks linearly separable
    10-d set, the torch MLP against the dressed quantum circuit on 4 qubits, 2 seeds. Uses qhybrid's Aer
    backend; sized to finish in about a minute on 2 cores."""
    return {
        "name": "default",
        "models": ["mlp", "dressed"],
        "datasets": ["qmlb:linearly_separable_10d"],
        "backends": ["auto"],
        "accelerators": ["cpu"],
        "seeds": 2,
        "params": {"mlp": {"max_epochs": 100}, "dressed": {"max_epochs": 15, "batch_size": 32}},
    }


def default_config() -> ExperimentConfig:
    """The validated built-in experiment (see :func:`default_raw`)."""
    return parse_config(default_raw(), source="built-in default")
