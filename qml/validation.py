"""Boundary checks of qhybrid's quantum side: the shared checks of :mod:`qhybrid.classical.validation`
(bools, ints, finite floats, seeds), so that both sides word and apply them alike, and the few that are
only quantum: probabilities, differentiation methods, inputs an amplitude embedding can normalise.

Example:
    >>> check_probability("noise readout", 0.01, high=0.5)
    0.01
    >>> check_probability("noise readout", "high", high=0.5)
    Traceback (most recent call last):
    ...
    qhybrid.classical.validation.ArgumentTypeError: noise readout must be a finite number in [0, 0.5], got str 'high'
"""

from __future__ import annotations

from typing import Any

from qhybrid.classical.validation import (
    ArgumentTypeError,
    check_bool,
    check_float,
    check_int,
    check_seed,
    describe,
)

__all__ = [
    "ArgumentTypeError",
    "DIFF_METHODS",
    "check_amplitude_inputs",
    "check_bool",
    "check_diff_method",
    "check_float",
    "check_int",
    "check_probability",
    "check_seed",
]

#: ``diff_method`` names a QuantumLayer accepts: ``best`` (qhybrid picks per backend), PennyLane's
#: methods, and ``None`` (no gradient).
DIFF_METHODS = (
    "best",
    "adjoint",
    "backprop",
    "device",
    "parameter-shift",
    "finite-diff",
    "spsa",
    "hadamard",
    "reversed-hadamard",
    "direct-hadamard",
    "reversed-direct-hadamard",
)


def check_probability(name: str, value: Any, high: float = 1.0) -> float:
    """A finite number in ``[0, high]``."""
    return check_float(name, value, 0, high)


def check_diff_method(value: Any) -> str | None:
    """A differentiation method by name (or ``None``), refused here rather than by PennyLane's
    ``QuantumFunctionError`` at the first forward pass. A PennyLane gradient transform passes as is."""
    if value is None or value in DIFF_METHODS:
        return value
    if isinstance(value, str):
        raise ValueError(f"unknown diff_method {value!r}; allowed: {', '.join(DIFF_METHODS)}, None")
    if callable(value):  # a gradient transform such as qml.gradients.param_shift
        return value
    raise ArgumentTypeError(
        f"diff_method must be a name, None or a gradient transform, got {describe(value)}"
    )


def check_amplitude_inputs(x) -> None:
    """Rows of ``x`` (a 2-d torch tensor) that an amplitude embedding can normalise: a row whose features
    are all 0 has no direction, and PennyLane would return NaN for it."""
    norms = x.detach().abs().sum(dim=-1)
    zero = (norms == 0).nonzero().flatten()
    if len(zero):
        raise ValueError(
            f"amplitude embedding cannot normalise {len(zero)} input row(s) whose features are all 0 (first "
            f"row {int(zero[0])}); shift the features or add a constant feature"
        )
