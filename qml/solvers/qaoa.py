"""QAOA: the quantum approximate optimisation algorithm for binary problems (MaxCut, QUBO)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pennylane as qp

from qhybrid.qml.validation import check_int, check_seed

from ._common import GRADIENT_OPTIMIZERS, check_backend, check_optimizer, check_positive, minimize
from .problems import QUBO
from .simulators import make_simulator

#: Initialisation strategies for the angles.
INITS = ("fixed", "random", "interp")
#: Widest problem QAOA simulates unless ``max_qubits`` is raised (a 2**24 statevector per circuit).
DEFAULT_MAX_QUBITS = 20


@dataclass
class QAOADepthResult:
    """Outcome of optimising one depth (INTERP optimises depths 1..p in turn)."""

    p: int
    energy: float
    expected_ratio: float | None
    gammas: np.ndarray
    betas: np.ndarray
    n_evaluations: int
    wall_time: float


@dataclass
class QAOAResult:
    """What :meth:`QAOA.solve` returns.

    Attributes:
        bitstring: best bitstring among those sampled from the optimised state (bit ``i`` = wire ``i``).
        cost: its objective (cut weight for MaxCut, ``x^T Q x + c`` for a QUBO).
        energy: expectation of the cost Hamiltonian in the optimised state (minimised).
        expected_cost: the objective's expectation in that state (expected cut for MaxCut).
        optimum: the exact optimum, when the problem is small enough to enumerate, else ``None``.
        approximation_ratio: of ``bitstring`` (cut / max cut for MaxCut; see ``QUBO.approximation_ratio``).
        expected_ratio: the same for ``energy``, the usual figure of merit of QAOA at depth ``p``.
        probability_optimal: probability of measuring an optimal bitstring (exact backends, small problems).
        gammas, betas: optimised angles, one per layer.
        history: cost-Hamiltonian energy over the optimisation (all depths, in order).
        n_evaluations: circuits executed on the device (gradient circuits and the final sampling
            included).
        n_cost_evaluations: energies the optimisers asked for, plus the final one of each depth (an Adam
            step counts once); with COBYLA at most ``maxiter + 1`` per depth.
        wall_time: seconds, including device construction and sampling.
        depths: one :class:`QAOADepthResult` per optimised depth.
        backend: the backend that ran the circuits (``auto`` resolved: ``torch`` is the engine).
        converged: whether the optimiser's stopping test held at the last depth before its budget ran out.
    """

    bitstring: np.ndarray
    cost: float
    energy: float
    expected_cost: float
    optimum: float | None
    approximation_ratio: float | None
    expected_ratio: float | None
    probability_optimal: float | None
    gammas: np.ndarray
    betas: np.ndarray
    history: list[float]
    n_evaluations: int
    wall_time: float
    p: int
    backend: str
    optimizer: str
    depths: list[QAOADepthResult] = field(default_factory=list)
    n_cost_evaluations: int = 0
    converged: bool = False


def interp_init(gammas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""INTERP (Zhou et al., PRX 10, 021067): angles for depth ``p+1`` from optimised depth-``p`` angles.

    :math:`\theta^{(p+1)}_i = \frac{i-1}{p}\theta^{(p)}_{i-1} + \frac{p-i+1}{p}\theta^{(p)}_i`, ``i = 1..p+1``,
    with :math:`\theta_0 = \theta_{p+1} = 0`.

    Example:
        >>> interp_init(np.array([0.4]), np.array([0.3]))
        (array([0.4, 0.4]), array([0.3, 0.3]))
    """

    def one(theta: np.ndarray) -> np.ndarray:
        p = theta.shape[0]
        padded = np.concatenate([[0.0], theta, [0.0]])
        i = np.arange(1, p + 2)
        return (i - 1) / p * padded[i - 1] + (p - i + 1) / p * padded[i]

    return one(np.asarray(gammas, float)), one(np.asarray(betas, float))


def linear_ramp(p: int, delta: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """Annealing-like angles: gamma grows and beta shrinks linearly over the ``p`` layers (midpoints)."""
    t = (np.arange(p) + 0.5) / p
    return t * delta, (1 - t) * delta


def _layers_at_depth(layers, p: int, params) -> None:
    layers(params, p)


def qaoa_circuit(problem: QUBO) -> Callable[[Any, int], None]:
    r"""The QAOA gates for ``problem`` as a function ``apply(params, p)`` to call inside a QNode.

    ``params`` holds ``[gamma_1..gamma_p, beta_1..beta_p]``; the cost layer is
    :math:`e^{-i\gamma H_C}` from the problem's Ising form (``IsingZZ`` and ``RZ`` gates), the mixer
    :math:`e^{-i\beta\sum_i X_i}` (``RX`` gates), after a Hadamard on every wire.

    Example:
        >>> import networkx as nx
        >>> from qhybrid.qml.solvers import MaxCut
        >>> dev = qp.device("default.qubit", wires=3)
        >>> problem = MaxCut(nx.cycle_graph(3))
        >>> apply = qaoa_circuit(problem)
        >>> circuit = qp.QNode(lambda x: (apply(x, 1), qp.expval(problem.cost_hamiltonian()))[1], dev)
        >>> round(float(circuit(np.array([0.0, 0.0]))), 6)  # |+++>: every edge cut with probability 1/2
        -1.5
    """
    if not isinstance(problem, QUBO):
        raise TypeError(f"problem must be a QUBO or MaxCut, got {type(problem).__name__}")
    n = problem.n_qubits
    h, jm, _ = problem.to_ising()
    terms_zz = [(int(i), int(j), float(jm[i, j])) for i, j in zip(*np.nonzero(jm), strict=True)]
    terms_z = [(i, float(h[i])) for i in range(n) if h[i] != 0]

    def apply(params: Any, p: int) -> None:
        for w in range(n):
            qp.Hadamard(w)
        for k in range(p):
            gamma, beta = params[k], params[p + k]
            for i, j, c in terms_zz:
                qp.IsingZZ(2 * gamma * c, wires=[i, j])
            for i, c in terms_z:
                qp.RZ(2 * gamma * c, wires=i)
            for w in range(n):
                qp.RX(2 * beta, wires=w)

    return apply


class QAOA:
    r"""Minimise a binary problem's cost Hamiltonian with QAOA.

    The state is :math:`\prod_{k=1}^{p} e^{-i\beta_k \sum_i X_i} e^{-i\gamma_k H_C} |+\rangle^{\otimes n}`;
    the angles minimise :math:`\langle H_C\rangle`; the answer is the best of ``n_samples`` bitstrings
    measured in the optimised state.

    Args:
        p: depth (number of cost + mixer layers).
        optimizer: ``"cobyla"``, ``"lbfgs"``, ``"adam"`` or ``"spsa"``.
        init: ``"fixed"`` (linear ramp), ``"random"`` (uniform, seeded) or ``"interp"`` (optimise depths
            1..p in turn, each starting from the INTERP interpolation of the previous one).
        backend: a name from ``qml.backend_choices()``; ``"auto"`` runs exact energies on the torch engine
            (one compiled circuit per depth) and shots on ``aer.shots``.
        shots: ``None`` for exact expectations; an int samples (on a sampling backend: ``"auto"``, ``"aer.shots"``).
        seed: seeds the initial angles, SPSA, the final sampling and the device.
        maxiter: optimiser iterations per depth: Adam gradient steps, SPSA steps (two energies each) or
            COBYLA energy evaluations; for COBYLA a hard limit, even below its own minimum of
            ``2 p + 2`` (scipy would raise the budget to it).
        stepsize: Adam learning rate / SPSA gain ``a`` / COBYLA initial trust radius.
        tol: Adam: gradient-norm threshold; COBYLA: final trust radius.
        n_samples: bitstrings sampled from the final state (exact backends) to pick the answer.
        max_qubits: refuse problems wider than this before building a device.

    Example:
        >>> import networkx as nx
        >>> from qhybrid.qml.solvers import MaxCut
        >>> res = QAOA(p=1, backend="default", seed=0).solve(MaxCut(nx.cycle_graph(4)))
        >>> res.cost
        4.0
    """

    def __init__(
        self,
        p: int = 1,
        *,
        optimizer: str = "cobyla",
        init: str = "fixed",
        backend: str = "auto",
        shots: int | None = None,
        seed: int | None = None,
        maxiter: int = 100,
        stepsize: float | None = None,
        tol: float = 1e-4,
        n_samples: int = 1024,
        max_qubits: int = DEFAULT_MAX_QUBITS,
    ):
        self.p = check_int("p", p, 1)
        self.optimizer = check_optimizer(optimizer)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.init = init
        self.backend, self.shots = check_backend(backend, shots)
        self.seed = check_seed("seed", seed)
        self.maxiter = check_int("maxiter", maxiter, 1)
        default_step = {"lbfgs": 1.0, "adam": 0.05, "spsa": 0.2, "cobyla": 0.3}[self.optimizer]
        self.stepsize = default_step if stepsize is None else check_positive("stepsize", stepsize)
        self.tol = check_positive("tol", tol)
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.max_qubits = check_int("max_qubits", max_qubits, 1)

    def solve(self, problem: QUBO) -> QAOAResult:
        """Optimise the angles for ``problem`` (a :class:`QUBO` or :class:`MaxCut`) and return the result."""
        if not isinstance(problem, QUBO):
            raise TypeError(f"problem must be a QUBO or MaxCut, got {type(problem).__name__}")
        n = problem.n_qubits
        if n > self.max_qubits:
            raise ValueError(
                f"problem has {n} qubits; this QAOA is limited to max_qubits={self.max_qubits} "
                "(raise max_qubits, --max-qubits in `qhybrid solve`, if the backend can hold the state)"
            )
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        layers, hamiltonian = qaoa_circuit(problem), problem.cost_hamiltonian()
        gradient = self.optimizer in GRADIENT_OPTIMIZERS
        bodies = {p: functools.partial(_layers_at_depth, layers, p) for p in range(1, self.p + 1)}

        def energies(sim, p):
            return sim.energy_functions(bodies[p], hamiltonian, 2 * p, gradient)

        sim = make_simulator(
            self.backend, n, self.shots, self.seed, body_check=lambda sim: energies(sim, self.p)
        )
        history: list[float] = []
        depths: list[QAOADepthResult] = []
        x, n_cost, converged = None, 0, False
        with sim.tracking():
            for p in range(1, self.p + 1) if self.init == "interp" else [self.p]:
                x, trace, depth = self._optimise_depth(problem, energies(sim, p), sim, p, x, rng)
                history.extend(trace.history)
                n_cost += trace.evaluations + 1
                depths.append(depth)
                converged = trace.converged
            probs = sim.probabilities(bodies[self.p], x)
        result = self._result(problem, probs, rng, depths, history, sim.executions, n_cost, t0)
        result.backend, result.converged = sim.backend, converged
        return result

    def _initial_angles(self, p: int, previous, rng) -> np.ndarray:
        """``(gammas, betas)`` to start depth ``p`` from: random, interpolated from depth ``p - 1``'s
        optimum, or a linear ramp."""
        if self.init == "random":
            return np.concatenate([rng.uniform(0, np.pi, p), rng.uniform(0, np.pi / 2, p)])
        if self.init == "interp" and previous is not None:
            return np.concatenate(interp_init(previous[: p - 1], previous[p - 1 :]))
        return np.concatenate(linear_ramp(p))

    def _optimise_depth(self, problem: QUBO, functions, sim, p: int, previous, rng):
        """Minimise the energy at depth ``p`` (``functions``: its ``cost`` and ``value_and_grad``): the optimum
        angles, the optimiser's trace, the depth's summary."""
        cost, value_and_grad = functions
        before, start = sim.executions, time.perf_counter()
        trace = minimize(
            cost,
            value_and_grad,
            self._initial_angles(p, previous, rng),
            method=self.optimizer,
            maxiter=self.maxiter,
            stepsize=self.stepsize,
            tol=self.tol,
            rng=rng,
        )
        x = trace.x
        e = cost(x)
        ratio = problem.approximation_ratio(e) if problem.is_enumerable() else None
        depth = QAOADepthResult(
            p, e, ratio, x[:p].copy(), x[p:].copy(), sim.executions - before, time.perf_counter() - start
        )
        return x, trace, depth

    def _candidates(self, probs: np.ndarray, n: int, rng) -> np.ndarray:
        """Bitstrings ``(k, n)`` to pick the answer from: ``n_samples`` draws of the exact distribution, or
        every bitstring the device measured with shots."""
        if self.shots is None:
            idx = np.unique(rng.choice(probs.size, size=self.n_samples, p=probs))
        else:  # the device already sampled: its non-zero frequencies are the measured bitstrings
            idx = np.flatnonzero(probs)
        shifts = np.arange(n - 1, -1, -1)
        return ((idx[:, None] >> shifts) & 1).astype(np.int8)

    def _result(self, problem, probs, rng, depths, history, n_evaluations, n_cost, t0) -> QAOAResult:
        probs = np.clip(probs, 0, None)
        probs /= probs.sum()
        candidates = self._candidates(probs, problem.n_qubits, rng)
        energies = problem.energy(candidates)
        best = int(np.argmin(energies))
        bits = candidates[best]
        final = depths[-1]
        enumerable = problem.is_enumerable()
        prob_opt = None
        if enumerable and self.shots is None:
            all_e = problem.energies()  # in chunks: 8 bytes per bitstring, not a (2**n, n) array
            prob_opt = float(probs[np.isclose(all_e, all_e.min(), rtol=0, atol=1e-9)].sum())
        return QAOAResult(
            bitstring=bits,
            cost=float(problem.value(bits)),
            energy=final.energy,
            expected_cost=(-1.0 if problem.sense == "max" else 1.0) * final.energy,
            optimum=problem.optimum() if enumerable else None,
            approximation_ratio=problem.approximation_ratio(float(energies[best])) if enumerable else None,
            expected_ratio=final.expected_ratio,
            probability_optimal=prob_opt,
            gammas=final.gammas,
            betas=final.betas,
            history=history,
            n_evaluations=n_evaluations,
            wall_time=time.perf_counter() - t0,
            p=self.p,
            backend=self.backend,
            optimizer=self.optimizer,
            depths=depths,
            n_cost_evaluations=n_cost,
        )
