"""Boundary checks shared by qhybrid's Python API: one check per kind of argument, one wording.

* :func:`check_bool`: ``True`` or ``False`` (not ``"no"``, ``0`` or ``None``).
* :func:`check_int`: an int (numpy ints too), never a bool or a float, optionally in a range.
* :func:`check_float`: a finite real number (ints allowed, bools and strings not), optionally in a range.
* :func:`check_seed`: what every ``seed`` / ``random_state`` accepts: an int >= 0, or ``None``.
* :func:`check_writable_dir`, :func:`check_file`: paths, checked before any work starts.
* :func:`check_finite_array`: features without NaN or infinite values.

A wrong type raises :class:`ArgumentTypeError`, which is a ``TypeError`` and also a ``ValueError`` (as
scikit-learn's ``InvalidParameterError`` is), so code that caught ``ValueError`` for a bad argument still
does; a value out of range raises ``ValueError``. Every message names the argument and the value given, in the words of
the command line's errors: ``seed must be >= 0, got -1``, ``lr must be a finite number, got inf``,
``n_qubits must be an integer >= 1, got str '4'``.

Example:
    >>> check_int("n_layers", 2, low=1)
    2
    >>> check_seed("seed", -1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be in 0..4294967295, got -1
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "check_bool",
    "check_file",
    "check_finite_array",
    "check_float",
    "check_int",
    "check_seed",
    "check_writable_dir",
    "describe",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (also a ``ValueError``, like scikit-learn's ``InvalidParameterError``)."""


def describe(value: Any) -> str:
    """``value`` as an error message shows it: its type for anything but a plain number or None
    (``str '4'``, ``float 0.5``, ``bool True``)."""
    if value is None or type(value) in (int, float):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _range_text(low, high, low_open: bool = False, high_open: bool = False) -> str:
    low, high = (v if v is None or isinstance(v, int) else f"{v:g}" for v in (low, high))
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy bools too), else :class:`ArgumentTypeError`."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentTypeError(f"{name} must be True or False, got {describe(value)}")


#: The most epochs and optimiser steps a training may ask for: far beyond any real run, below one that would
#: never end by accident (``max_epochs = 2**63 - 1``).
MAX_EPOCHS = 10**6
MAX_STEPS = 10**9
#: The most samples a generated data set may ask for (10 million rows of a few features: gigabytes, not
#: the terabytes a typo like ``n_samples = 1000000000000`` would allocate).
MAX_SAMPLES = 10**7


def detached(value: Any) -> Any:
    """A torch tensor as a CPU numpy array (detached: one that requires grad cannot become numpy as it
    is); anything else unchanged. For data given to scikit-learn-style ``fit`` / ``predict``."""
    if hasattr(value, "detach") and type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return value


def check_int(
    name: str, value: Any, low: int | None = None, high: int | None = None, *, allow_none: bool = False
) -> int | None:
    """``value`` as an int in ``[low, high]``; bools, floats and strings are refused."""
    if value is None and allow_none:
        return None
    rng = f"in {low}..{high}" if low is not None and high is not None else _range_text(low, high)
    if not _is_int(value):
        allowed = " ".join(filter(None, ("an integer", rng, "or None" if allow_none else "")))
        raise ArgumentTypeError(f"{name} must be {allowed}, got {describe(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {rng}, got {value}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a finite float in the given range (``low_open``: ``> low`` instead of ``>= low``).

    Ints and numpy floats are numbers; bools, strings and NaN/inf are not accepted."""
    if value is None and allow_none:
        return None
    rng = _range_text(low, high, low_open, high_open)
    allowed = " ".join(filter(None, ("a finite number", rng, "or None" if allow_none else "")))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be {allowed}, got {describe(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return v


#: The largest seed: numpy's and scikit-learn's (``RandomState``) bound, so a seed that passes here is taken
#: by every library a run seeds.
MAX_SEED = 2**32 - 1


def check_seed(name: str, value: Any, *, allow_none: bool = True) -> int | None:
    """A seed (``seed``, ``random_state``): an integer in ``0..MAX_SEED``, or ``None`` where the caller allows
    it. The same rule in every entry point (estimators, ``load_dataset``, QAOA, VQE, the classical solvers,
    experiment files)."""
    return check_int(name, value, 0, MAX_SEED, allow_none=allow_none)


def check_writable_dir(path: Any, what: str) -> Path:
    """A folder files can be written to: an existing writable folder, or one that ``mkdir(parents=True)``
    can create (its nearest existing parent is a writable folder). Nothing is created here."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"{what} must be a path (str or os.PathLike), got {describe(path)}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {str(path)!r}: exists and is not a folder")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{what} {str(path)!r}: {str(probe)!r} is a file, so the folder cannot be created")
    if not os.access(probe, os.W_OK | os.X_OK):
        why = "is not writable" if probe == path else f"cannot be created: {str(probe)!r} is not writable"
        raise ValueError(f"{what} {str(path)!r}: {why}")
    return path


def check_file(path: Any, what: str) -> Path:
    """An existing regular file that can be read."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"{what} must be a path (str or os.PathLike), got {describe(path)}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r}: is a folder, not a file")
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r}: does not exist")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{what} {str(path)!r}: is not readable")
    return path


def check_finite_array(what: str, values: Any) -> None:
    """Raise ``ValueError`` naming how many NaN/inf values ``values`` (a numpy array or torch tensor with
    samples along the first axis) holds and the first row with one."""
    bad = ~(values.isfinite() if hasattr(values, "isfinite") else np.isfinite(values))
    if not bool(bad.any()):
        return
    bad = np.asarray(bad.cpu() if hasattr(bad, "cpu") else bad).reshape(len(bad), -1)
    rows = np.flatnonzero(bad.any(axis=1))
    every = " (every value)" if bad.all() else ""
    raise ValueError(
        f"{what} has {int(bad.sum())} NaN/inf values{every} in {len(rows)} of {len(bad)} rows (first row "
        f"{int(rows[0])}); clean or impute them first"
    )


# ------------------------------------------------------------------------------------------ checkpoints

#: Entries every checkpoint written by ``Trainer.save_checkpoint`` holds.
CHECKPOINT_KEYS = ("version", "model", "optimizer", "rng", "epoch", "global_step", "history", "callbacks")


def _unreadable_why(err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in our words: torch's own text advises
    loading with ``weights_only=False``, which runs arbitrary code from an untrusted file."""
    import pickle
    import re

    text = str(err)
    if isinstance(err, pickle.UnpicklingError):
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            return f"it holds a Python object of type {found.group(1)}, which no qhybrid checkpoint holds"
        return "it is not a torch file of tensors and plain containers (a pickle of other objects?)"
    if isinstance(err, EOFError):
        return "the file is empty or ends too early"
    if "central directory" in text or "zip archive" in text:
        return "the file is truncated or corrupt (not a complete torch zip archive)"
    if isinstance(err, OSError):  # a zip cut short: torch reads past its end ([Errno 22] Invalid argument)
        return f"the file is truncated or corrupt (reading it failed: {err.strerror or err})"
    return f"not a torch checkpoint file ({type(err).__name__})"


def read_checkpoint(path: Any, version: int) -> dict[str, Any]:
    """The checkpoint dict in ``path`` (tensors on CPU, loaded with ``weights_only=True``), or
    ``ValueError("not a qhybrid checkpoint: <path>: <why>")`` for a corrupt, truncated or foreign file.
    Nothing in the file is unpickled beyond tensors and plain containers."""
    import warnings

    import torch

    path = check_file(path, "checkpoint")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Detected pickle protocol ..." of foreign files
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, KeyError, ...
        raise ValueError(f"not a qhybrid checkpoint: {path}: {_unreadable_why(err)}") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"not a qhybrid checkpoint: {path}: it holds a {type(ckpt).__name__}, not a dict")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"not a qhybrid checkpoint: {path}: it lacks the entries {', '.join(missing)}")
    if ckpt["version"] != version:
        raise ValueError(f"checkpoint {str(path)!r} has format {ckpt['version']!r}, expected {version}")
    return ckpt


def check_random_state(random_state) -> None:
    """``random_state``: ``None``, a numpy ``RandomState``, or a seed as every qhybrid entry point takes it
    (an int >= 0, :func:`qhybrid.classical.validation.check_seed`)."""
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)):
        raise ArgumentTypeError(
            f"random_state must be an integer in 0..{MAX_SEED}, a numpy RandomState or None, got "
            f"{describe(random_state)}"
        )
    check_seed("random_state", random_state)


def seed_from(random_state) -> int:
    """The int seed of a ``random_state`` (checked by :func:`check_random_state`); ``None`` and a
    ``RandomState`` draw one."""
    check_random_state(random_state)
    if random_state is None:
        return int(np.random.randint(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)
