"""Shared machinery of the variational solvers: devices, optimisers by name, argument checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pennylane as qp
import scipy.optimize
from pennylane import numpy as pnp

from qhybrid.qml.backends import backend_names

#: Optimiser names the solvers accept.
OPTIMIZERS = ("adam", "spsa", "cobyla")


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` or a ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def check_positive(name: str, value: object) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from exc
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return v


def check_optimizer(name: object) -> str:
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return name.lower()


def check_backend(name: object, shots: object) -> tuple[str, int | None]:
    """Validate a backend name and shot count against the registry before any device is built."""
    names = backend_names()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(names)}")
    if shots is not None:
        shots = check_int("shots", shots, 1)
    elif name == "aer.shots":
        raise ValueError(
            "backend 'aer.shots' samples and needs shots > 0 (e.g. shots=1000); use 'aer' for exact"
        )
    return name, shots


def executions(tracker: qp.Tracker) -> int:
    """Circuits the device ran while the tracker was active."""
    return int(tracker.totals.get("executions", 0))


def energy_functions(energy_circuit):
    """``cost(params) -> float`` and ``value_and_grad(params) -> (float, array)`` of an energy QNode.

    The gradient's forward pass supplies the value, so a gradient step costs no extra evaluation.
    """

    def cost(params):
        return float(energy_circuit(pnp.array(params, requires_grad=False)))

    def value_and_grad(params):
        g = qp.grad(energy_circuit)
        grad = g(pnp.array(params, requires_grad=True))
        return float(g.forward), np.atleast_1d(np.asarray(grad, dtype=float))

    return cost, value_and_grad


@dataclass
class OptimizationTrace:
    """What an optimiser run leaves behind."""

    x: np.ndarray
    history: list[float] = field(default_factory=list)
    iterations: int = 0


def minimize(
    cost: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None,
    x0: np.ndarray,
    *,
    method: str,
    maxiter: int,
    stepsize: float,
    tol: float,
    rng: np.random.Generator,
) -> OptimizationTrace:
    """Minimise ``cost`` from ``x0`` with the named optimiser.

    * ``adam``: gradient steps (``grad`` returns ``(cost, gradient)``, so the forward value is not paid twice);
      stops when the gradient norm drops below ``tol``. ``history`` holds the cost at each step.
    * ``spsa``: simultaneous-perturbation stochastic approximation (Spall's gains, two evaluations a step).
    * ``cobyla``: scipy's derivative-free trust region; ``history`` holds every evaluation.
    """
    x = np.array(x0, dtype=float)
    trace = OptimizationTrace(x)
    if method == "adam":
        m = np.zeros_like(x)
        v = np.zeros_like(x)
        b1, b2, eps = 0.9, 0.999, 1e-8
        best_x, best_c = x.copy(), math.inf
        for k in range(1, maxiter + 1):
            c, g = grad(x)
            trace.history.append(c)
            if c < best_c:
                best_x, best_c = x.copy(), c
            trace.iterations = k
            if np.linalg.norm(g) < tol:
                break
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            x = x - stepsize * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
        else:
            c = cost(x)
            trace.history.append(c)
            if c < best_c:
                best_x = x.copy()
        trace.x = best_x
    elif method == "spsa":
        a, c0, big_a = stepsize, 0.1, 0.1 * maxiter
        for k in range(maxiter):
            ak = a / (k + 1 + big_a) ** 0.602
            ck = c0 / (k + 1) ** 0.101
            delta = rng.choice([-1.0, 1.0], size=x.shape)
            fp, fm = cost(x + ck * delta), cost(x - ck * delta)
            x = x - ak * (fp - fm) / (2 * ck) * delta
            trace.history.append((fp + fm) / 2)
            trace.iterations = k + 1
        trace.history.append(cost(x))
        trace.x = x
    elif method == "cobyla":

        def recorded(y: np.ndarray) -> float:
            c = cost(y)
            trace.history.append(c)
            return c

        res = scipy.optimize.minimize(
            recorded, x, method="COBYLA", tol=tol, options={"maxiter": maxiter, "rhobeg": stepsize}
        )
        trace.x = np.asarray(res.x, dtype=float)
        trace.iterations = int(res.nfev)
    else:  # pragma: no cover - names are validated at the boundary
        raise ValueError(f"unknown optimizer {method!r}")
    return trace
