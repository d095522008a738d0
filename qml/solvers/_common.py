"""Shared machinery of the variational solvers: devices, optimisers by name, argument checks.

The backend names come from the registry, ``qml.backends.backend_names()``: a backend added there is
accepted here. Public names used outside ``qml.solvers`` (:data:`OPTIMIZERS`, :func:`energy_functions`) are
re-exported by ``qml.solvers``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pennylane as qp
import scipy.optimize
from pennylane import numpy as pnp

from qhybrid.qml.backends import AUTO, backend_choices, backend_info, resolve_backend
from qhybrid.qml.validation import check_float, check_int

#: Optimiser names the solvers accept.
OPTIMIZERS = ("lbfgs", "adam", "spsa", "cobyla")
#: Optimisers that read gradients (the others run plain forward passes).
GRADIENT_OPTIMIZERS = ("lbfgs", "adam")


def check_positive(name: str, value: object) -> float:
    """A finite number > 0."""
    return check_float(name, value, 0, low_open=True)


def check_optimizer(name: object) -> str:
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return name.lower()


def check_backend(name: object, shots: object) -> tuple[str, int | None]:
    """Validate a backend name and shot count against the registry before any device is built."""
    names = backend_choices()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(names)}")
    if name != AUTO and backend_info(name).engine == "torch" and backend_info(name).takes_noise:
        raise ValueError(
            f"backend {name!r} runs noisy QuantumLayer models and the solvers take no noise; use "
            "'auto', 'torch' or an Aer backend"
        )
    if shots is not None:
        shots = check_int("shots", shots, 1)
        if not backend_info(resolve_backend(name, shots)).takes_shots:
            raise ValueError(f"backend {name!r} is exact and takes no shots; use 'auto' or 'aer.shots'")
    elif name != AUTO and backend_info(name).needs_shots:
        raise ValueError(
            f"backend {name!r} samples and needs shots > 0 (e.g. shots=1000); use 'aer' for exact"
        )
    return name, shots


def energy_functions(energy_circuit):
    """``cost(params) -> float`` and ``value_and_grad(params) -> (float, array)`` of an energy QNode.

    The gradient's forward pass supplies the value, so a gradient step costs no extra evaluation. QAOA and
    VQE minimise through these; exported as ``qml.solvers.energy_functions`` for benchmarks and tests that
    time or check the same calls.
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
    """What an optimiser run leaves behind: ``evaluations`` counts the energies it asked for (a gradient
    step counts once; its gradient circuits show in the device's execution count)."""

    x: np.ndarray
    history: list[float] = field(default_factory=list)
    iterations: int = 0
    evaluations: int = 0
    #: whether the optimiser's own stopping test held (not its budget running out); SPSA has none
    converged: bool = False


class _BudgetSpent(Exception):
    """Raised inside COBYLA's objective once ``maxiter`` energies have been evaluated."""


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

    * ``lbfgs``: scipy's L-BFGS-B on the energy and its gradient (one ``grad`` call per evaluation, line
      searches included); ``maxiter`` evaluations at most, ``tol`` its gradient and relative-change test.
    * ``adam``: gradient steps (``grad`` returns ``(cost, gradient)``, so the forward value is not paid twice);
      stops when the gradient norm drops below ``tol``. ``history`` holds the cost at each step.
    * ``spsa``: simultaneous-perturbation stochastic approximation (Spall's gains, two evaluations a step).
    * ``cobyla``: scipy's derivative-free trust region; ``history`` holds every evaluation. ``maxiter`` is
      the number of energy evaluations, at most: scipy raises a budget below ``len(x0) + 2`` to that
      minimum (with a warning), so a smaller budget is enforced here and the best point evaluated is kept.
    """
    x = np.array(x0, dtype=float)
    trace = OptimizationTrace(x)
    if method == "lbfgs":
        _lbfgs(grad, x, trace, maxiter, tol)
    elif method == "adam":
        _adam(cost, grad, x, trace, maxiter, stepsize, tol)
    elif method == "spsa":
        _spsa(cost, x, trace, maxiter, stepsize, rng)
    elif method == "cobyla":
        _cobyla(cost, x, trace, maxiter, stepsize, tol)
    else:  # pragma: no cover - names are validated at the boundary
        raise ValueError(f"unknown optimizer {method!r}")
    return trace


def _adam(cost, grad, x: np.ndarray, trace: OptimizationTrace, maxiter: int, stepsize: float, tol: float):
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    b1, b2, eps = 0.9, 0.999, 1e-8
    best_x, best_c = x.copy(), math.inf
    for k in range(1, maxiter + 1):
        c, g = grad(x)
        trace.history.append(c)
        if c < best_c:
            best_x, best_c = x.copy(), c
        trace.iterations = trace.evaluations = k
        if np.linalg.norm(g) < tol:
            trace.converged = True
            break
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - stepsize * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
    else:
        c = cost(x)
        trace.history.append(c)
        trace.evaluations += 1
        if c < best_c:
            best_x = x.copy()
    trace.x = best_x


def _spsa(cost, x: np.ndarray, trace: OptimizationTrace, maxiter: int, stepsize: float, rng):
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
    trace.evaluations = 2 * trace.iterations + 1
    trace.x = x


def _cobyla(cost, x: np.ndarray, trace: OptimizationTrace, maxiter: int, stepsize: float, tol: float):
    best = [math.inf, x.copy()]

    def recorded(y: np.ndarray) -> float:
        if len(trace.history) >= maxiter:
            raise _BudgetSpent
        c = cost(y)
        trace.history.append(c)
        if c < best[0]:
            best[:] = [c, np.array(y, dtype=float)]
        return c

    budget = max(maxiter, x.size + 2)  # scipy's minimum; the objective stops at maxiter itself
    try:
        res = scipy.optimize.minimize(
            recorded, x, method="COBYLA", tol=tol, options={"maxiter": budget, "rhobeg": stepsize}
        )
        trace.x = np.asarray(res.x, dtype=float)
        trace.converged = bool(res.success)
    except _BudgetSpent:
        trace.x = best[1]
    trace.iterations = trace.evaluations = len(trace.history)


def _lbfgs(grad, x: np.ndarray, trace: OptimizationTrace, maxiter: int, tol: float):
    best = [math.inf, x.copy()]

    def recorded(y: np.ndarray):
        if len(trace.history) >= maxiter:
            raise _BudgetSpent
        c, g = grad(y)
        trace.history.append(c)
        if c < best[0]:
            best[:] = [c, np.array(y, dtype=float)]
        return c, g

    try:
        res = scipy.optimize.minimize(
            recorded, x, jac=True, method="L-BFGS-B", tol=tol, options={"maxfun": maxiter + 1}
        )
        trace.converged = bool(res.success)
        trace.iterations = int(res.nit)
    except _BudgetSpent:
        pass
    trace.x = best[1]
    trace.evaluations = len(trace.history)
