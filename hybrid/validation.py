"""Checks of an experiment and of the command line's files, done before any cell runs.

:func:`check_experiment` loads every data set with the ``[data]`` options and builds every estimator with
its parameters on every data set and platform of the grid, the way a cell will, so that a value that
would fail every cell (``C = -1.0``, an unknown ``activation`` or ``ansatz``, ``n_qubits = 40``,
``n_samples = 1``) stops the run first. Errors name the TOML key, its value and what is allowed, with the
file and line where the key is found in the file's text.

The file helpers (:func:`read_text`, :func:`check_output_dir`, :func:`read_json`) turn the operating
system's and the parsers' errors into a ``ValueError`` or ``OSError`` that names the file and the flag.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = [
    "check_experiment",
    "check_output_dir",
    "check_param_types",
    "locate",
    "read_json",
    "read_text",
    "toml_line",
]

#: Above this state size a probe build uses ``default.qubit`` (which allocates nothing until it runs)
#: instead of the cell's backend; the width itself is still checked against the memory guard.
_PROBE_STATE_BYTES = 1 << 28


# ------------------------------------------------------------------------------------------ naming keys


def toml_value(value: Any) -> str:
    """``value`` as it is written in TOML (``true``, ``"relu"``, ``-1.0``, ``[8, 8]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def toml_line(text: str | None, dotted: str) -> int | None:
    """The line of ``text`` that sets the key ``dotted`` (``params.svc.C``), or ``None``: a plain scan of
    ``[table]`` headers and ``key = value`` lines, enough for the files this project documents."""
    if not text:
        return None
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        header = re.fullmatch(r"\[\s*([^\[\]]+?)\s*\]", stripped)
        if header:
            current = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "")
            continue
        assignment = re.match(r'"?([A-Za-z0-9_.-]+?)"?\s*=', stripped)
        if assignment:
            key = re.sub(r"\s*\.\s*", ".", assignment.group(1))
            if (f"{current}.{key}" if current else key) == dotted:
                return number
    return None


def _at(source: str, text: str | None, dotted: str) -> str:
    line = toml_line(text, dotted)
    return f"{source}:{line}" if line else source


def locate(message: str, source: str, text: str | None, skip: tuple[str, ...] = ()) -> str:
    """``message`` prefixed with ``<file>:<line>: `` of the first key it names that the file's text sets
    (``params.svc.C``, ``search.space.mlp``, ``'seeds'``); keys in ``skip`` (set on the command line
    instead) are not looked up. Without a file (``text`` is None) the message is returned as is."""
    if text is None or message.startswith(source):
        return message
    candidates = re.findall(r"[A-Za-z_][\w-]*(?:\.[\w-]+)+|'[a-z_]+'", message)
    for candidate in candidates:
        dotted = candidate.strip("'")
        if dotted.split(".")[0] in skip:
            continue
        line = toml_line(text, dotted) or _table_line(text, dotted)
        if line:
            return f"{source}:{line}: {message}"
    return f"{source}: {message}"


def _table_line(text: str, dotted: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.fullmatch(rf"\[\s*{re.escape(dotted)}\s*\]", line.split("#", 1)[0].strip()):
            return number
    return None


def _culprit(message: str, keys) -> str | None:
    """The key among ``keys`` that an error message names (``"The 'C' parameter ..."`` names ``C``)."""
    for key in sorted(keys, key=len, reverse=True):
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", message):
            return key
    return None


# ---------------------------------------------------------------------------------------- parameter types


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_error(default: Any, value: Any) -> str | None:
    """Why ``value`` cannot replace a parameter whose default is ``default`` (``None``: it can)."""
    if value is None or default is None:
        return None  # None-able parameters are checked by the estimator itself
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if _is_int(default):
        return None if _is_int(value) else "must be an integer"
    if isinstance(default, float):
        ok = (_is_int(value) or isinstance(value, float)) and value == value and abs(value) != float("inf")
        return None if ok else "must be a finite number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "must be a string"
    if isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and all(_is_int(v) and v >= 1 for v in value)
        return None if ok else "must be a list of positive integers"
    return None


def check_param_types(registry_name: str, params: dict[str, Any], where: str) -> None:
    """Bools must be bools, ints ints (not floats or bools), floats finite numbers, strings strings: each
    parameter of a qhybrid estimator has the type of its default. scikit-learn's own estimators check
    theirs with ``_parameter_constraints`` (see :func:`check_experiment`)."""
    from qhybrid.hybrid.models import make_model

    probe = make_model(registry_name)
    if hasattr(probe, "_parameter_constraints"):
        return
    defaults = probe.get_params(deep=False)
    for key, value in params.items():
        why = _type_error(defaults.get(key), value)
        if why:
            raise ValueError(
                f"{where}.{key} = {toml_value(value)}: {why} (the default is {toml_value(defaults[key])})"
            )


# ------------------------------------------------------------------------------------------ experiment


def _data_shapes(config, source: str, text: str | None) -> dict[str, tuple[int, int]]:
    """``{data set: (n_features, n_classes)}``, loading each data set with the ``[data]`` options."""
    from qhybrid.classical.data import load_dataset

    shapes = {}
    for name in config.datasets:
        try:
            data = load_dataset(name, **config.data)
        except (TypeError, ValueError) as err:
            key = _culprit(str(err), config.data)
            if key is None:
                raise ValueError(
                    f"{source}: data set {name!r} cannot be loaded with [data] {config.data}: {err}"
                ) from None
            raise ValueError(
                f"{_at(source, text, f'data.{key}')}: data.{key} = {toml_value(config.data[key])} does not work "
                f"for data set {name!r}: {err}"
            ) from None
        shapes[name] = (data.n_features, data.n_classes)
    return shapes


def _origin(raw: dict, label: str, registry_name: str, key: str) -> str:
    """The TOML table that set ``key`` for the model ``label``: its variant, else ``[params.<model>]``."""
    variant = (raw.get("variants") or {}).get(label)
    if isinstance(variant, dict) and key in variant:
        return f"variants.{label}"
    return f"params.{registry_name}"


def _check_width(estimator, platform: str, n_features: int) -> int:
    from qhybrid.qml.backends import MAX_QUBITS, check_fits

    width = estimator._width(n_features)
    if width > MAX_QUBITS:
        raise ValueError(f"{width} qubits requested; qhybrid's backends accept at most {MAX_QUBITS}")
    check_fits(platform, width)
    return width


def _build(label: str, config, platform: str, shape: tuple[int, int]) -> None:
    """Build the estimator of a cell as the cell will (minus the training): scikit-learn's parameter
    constraints, qhybrid's checks, the width against the memory guard, the torch module and its circuit."""
    from qhybrid.hybrid.models import make_model, model_family, platform_kwargs
    from qhybrid.qml.backends import required_memory_bytes

    registry_name, params = config.model_specs[label]
    family = model_family(registry_name)
    estimator = make_model(
        registry_name, random_state=0, **params, **platform_kwargs(registry_name, platform)
    )
    if hasattr(estimator, "_parameter_constraints"):
        estimator._validate_params()
    if hasattr(estimator, "check_params"):
        estimator.check_params()
    if not hasattr(estimator, "_build"):
        return
    if family != "classical":
        width = _check_width(estimator, platform, shape[0])
        if required_memory_bytes(platform, width) > _PROBE_STATE_BYTES:
            estimator.set_params(backend="default")
    estimator._build(*shape)


def check_experiment(
    config, raw: dict | None = None, *, source: str = "config", text: str | None = None
) -> None:
    """Raise ``ValueError`` naming the key, value and what is allowed if any cell of ``config`` would fail
    before training: a data set that cannot be loaded with ``[data]``, an estimator that cannot be built
    with its parameters on a data set and platform, or a circuit too wide for the memory guard. ``raw`` (the
    parsed TOML) and ``text`` (the file's text) let the message name the table and line that set the
    value."""
    raw = raw or {}
    shapes = _data_shapes(config, source, text)
    for label in config.models:
        registry_name, params = config.model_specs[label]
        for dataset, shape in shapes.items():
            for platform in config.platforms(label):
                try:
                    _build(label, config, platform, shape)
                except (TypeError, ValueError) as err:
                    raise ValueError(
                        _describe(err, label, registry_name, params, dataset, platform, raw, source, text)
                    ) from None


def _describe(err, label, registry_name, params, dataset, platform, raw, source, text) -> str:
    cell = f"model {label!r} on data set {dataset!r} ({platform})"
    message = str(err)
    key = _culprit(message, params)
    if key is None and "qubits" in message and "n_qubits" in params:
        key = "n_qubits"
    if key is None:
        return f"{source}: {cell} cannot be built: {message}"
    dotted = f"{_origin(raw, label, registry_name, key)}.{key}"
    return f"{_at(source, text, dotted)}: {dotted} = {toml_value(params[key])} fails for {cell}: {message}"


# ---------------------------------------------------------------------------------------------- files


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a file given on the command line as ``what`` (``--config``, ``--graph``, ...)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r}: is a directory, not a file")
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r}: does not exist")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise ValueError(f"{what} {str(path)!r}: not a regular file")
    try:
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")  # an editor's byte-order mark
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{what} {str(path)!r}: not a UTF-8 text file (byte {err.start}: {err.reason})"
        ) from None
    except OSError as err:
        raise OSError(err.errno, f"{what} {str(path)!r}: {err.strerror}") from None


def read_json(path: Path, what: str) -> Any:
    """A JSON file written by qhybrid (``experiment.json``), with the file named when it is broken."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{what} {str(path)!r}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None


def check_output_dir(path: str | Path, what: str = "--out") -> Path:
    """A folder results can be written to: an existing writable folder, or one that can be created (the
    nearest existing parent is a writable folder)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {str(path)!r}: exists and is not a folder")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{what} {str(path)!r}: {str(probe)!r} is a file, so the folder cannot be created")
    if not os.access(probe, os.W_OK | os.X_OK):
        verb = (
            "is not writable"
            if probe == path
            else "cannot be created: its parent " + repr(str(probe)) + " is not writable"
        )
        raise ValueError(f"{what} {str(path)!r}: {verb}")
    return path
