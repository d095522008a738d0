"""VQE: the variational quantum eigensolver for molecular and spin Hamiltonians."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pennylane as qp

from qhybrid.qml.circuits import get_ansatz
from qhybrid.qml.validation import check_int, check_seed

from ._common import GRADIENT_OPTIMIZERS, check_backend, check_optimizer, check_positive, minimize
from .hamiltonians import HamiltonianProblem
from .simulators import make_simulator

#: Ansatz names VQE accepts: whole state preparations for a Hamiltonian problem (two of them chemistry
#: ansätze built from the Hartree-Fock state), not the per-layer ``qml.circuits.ANSATZE`` of QuantumLayer,
#: whose hardware-efficient layer VQE's ``"hardware_efficient"`` repeats.
VQE_ANSATZE = ("uccsd", "doubles", "hardware_efficient")
#: Widest problem VQE simulates unless ``max_qubits`` is raised.
DEFAULT_MAX_QUBITS = 20


@dataclass
class VQEResult:
    """What :meth:`VQE.solve` returns.

    Attributes:
        energy: estimated ground-state energy (the lowest evaluated expectation value, re-evaluated at ``params``).
        exact_energy: exact ground-state energy when the Hamiltonian is small enough to diagonalise, else ``None``.
        error: ``energy - exact_energy`` (>= 0 up to sampling noise) or ``None``.
        params: optimised parameters (flat).
        history: energy over the optimisation.
        n_evaluations: circuits executed on the device: gradient circuits included, and a Hamiltonian
            the device measures group by group (``default.qubit``) counts one circuit per group.
        n_cost_evaluations: energies the optimiser asked for, plus the final one at ``params`` (an Adam
            or L-BFGS step counts once); at most ``maxiter + 1``.
        wall_time: seconds, including device construction.
        backend: the backend that ran the circuits (``auto`` resolved: ``torch`` is the engine).
        converged: whether the optimiser's stopping test held before its budget ran out (SPSA has none).
    """

    energy: float
    exact_energy: float | None
    error: float | None
    params: np.ndarray
    history: list[float]
    n_evaluations: int
    wall_time: float
    ansatz: str
    backend: str
    optimizer: str
    n_params: int
    extra: dict = field(default_factory=dict)
    n_cost_evaluations: int = 0
    converged: bool = False


def excitations(hf_state) -> tuple[list[list[int]], list[list[int]]]:
    """Spin-conserving single and double excitations out of the occupied spin orbitals of ``hf_state``
    (PennyLane's order: even wires spin up). For a closed shell the same lists, in the same order, as
    ``qml.qchem.excitations``; for an open-shell reference the ones its occupation allows."""
    occupied = [int(w) for w in np.flatnonzero(hf_state)]
    virtual = [int(w) for w in np.flatnonzero(np.asarray(hf_state) == 0)]
    singles = [[i, a] for i in occupied for a in virtual if i % 2 == a % 2]
    doubles = [
        [i, j, a, b]
        for x, i in enumerate(occupied)
        for j in occupied[x + 1 :]
        for y, a in enumerate(virtual)
        for b in virtual[y + 1 :]
        if (i % 2) + (j % 2) == (a % 2) + (b % 2)
    ]
    return singles, doubles


class VQE:
    r"""Minimise :math:`\langle\psi(\theta)|H|\psi(\theta)\rangle` over an ansatz.

    Ansätze:

    * ``"uccsd"``: all single and double excitations (particle-conserving Givens rotations, PennyLane's
      ``AllSinglesDoubles``) on the Hartree-Fock reference; parameters start at 0, i.e. at Hartree-Fock.
    * ``"doubles"``: double excitations only (one parameter for H2).
    * ``"hardware_efficient"``: ``n_layers`` of RY, RZ on every qubit and a CNOT chain, starting from the
      Hartree-Fock state when the problem has one; small random initial parameters.

    Chemistry ansätze need a problem with ``hf_state`` (see :func:`qml.solvers.molecule`).

    Args:
        ansatz: one of ``"uccsd"``, ``"doubles"``, ``"hardware_efficient"``.
        n_layers: layers of the hardware-efficient ansatz.
        optimizer: ``"lbfgs"``, ``"adam"``, ``"spsa"`` or ``"cobyla"``; by default L-BFGS on exact
            energies and their adjoint gradients, COBYLA with shots.
        backend: a name from ``qml.backend_choices()``; ``"auto"`` runs exact energies on the torch engine
            (one compiled circuit, the gradient by its adjoint pass) and shots on ``aer.shots``.
        shots: ``None`` for exact expectations, else samples per circuit (with a sampling backend).
        seed: seeds initial parameters, SPSA and the device.
        maxiter, stepsize, tol: as for :class:`qml.solvers.QAOA`: ``maxiter`` is L-BFGS's energy-and-gradient
            evaluations, Adam's gradient steps, SPSA's steps (two energies each) or COBYLA's energy
            evaluations, a hard limit even below COBYLA's own minimum of ``n_params + 2`` (scipy would raise
            the budget to it).
        max_qubits: refuse wider problems before building a device.

    Example:
        >>> from qhybrid.qml.solvers import h2
        >>> res = VQE("doubles").solve(h2())
        >>> abs(res.error) < 1.6e-3
        True
    """

    def __init__(
        self,
        ansatz: str = "uccsd",
        *,
        n_layers: int = 2,
        optimizer: str | None = None,
        backend: str = "auto",
        shots: int | None = None,
        seed: int | None = None,
        maxiter: int = 200,
        stepsize: float | None = None,
        tol: float = 1e-6,
        max_qubits: int = DEFAULT_MAX_QUBITS,
    ):
        if ansatz not in VQE_ANSATZE:
            raise ValueError(f"unknown ansatz {ansatz!r}; choose one of {', '.join(VQE_ANSATZE)}")
        self.ansatz = ansatz
        self.n_layers = check_int("n_layers", n_layers, 1)
        self.backend, self.shots = check_backend(backend, shots)
        default_optimizer = "lbfgs" if self.shots is None else "cobyla"
        self.optimizer = check_optimizer(default_optimizer if optimizer is None else optimizer)
        self.seed = check_seed("seed", seed)
        self.maxiter = check_int("maxiter", maxiter, 1)
        default_step = {"lbfgs": 1.0, "adam": 0.1, "spsa": 0.2, "cobyla": 0.2}[self.optimizer]
        self.stepsize = default_step if stepsize is None else check_positive("stepsize", stepsize)
        self.tol = check_positive("tol", tol)
        self.max_qubits = check_int("max_qubits", max_qubits, 1)

    def _build(self, problem: HamiltonianProblem, rng: np.random.Generator):
        """(circuit body taking flat params, initial params)."""
        n = problem.n_qubits
        hf = problem.hf_state
        if self.ansatz in ("uccsd", "doubles"):
            if hf is None or problem.n_electrons is None:
                raise ValueError(
                    f"ansatz {self.ansatz!r} needs a molecular problem with a Hartree-Fock state; "
                    f"{problem.name!r} has none (use ansatz='hardware_efficient')"
                )
            singles, doubles = excitations(hf)
            if self.ansatz == "doubles":
                singles = []
            n_params = len(singles) + len(doubles)
            if n_params == 0:
                raise ValueError(
                    f"{problem.name!r} has no {self.ansatz} excitation that keeps its spin: its Hartree-Fock "
                    "state has nothing to mix with (use ansatz='hardware_efficient', or a larger basis)"
                )

            def body(params):
                qp.AllSinglesDoubles(
                    params, wires=range(n), hf_state=hf, singles=singles or None, doubles=doubles
                )

            return body, np.zeros(n_params)

        layer = get_ansatz("hardware_efficient")  # QuantumLayer's layer: RY, RZ on every qubit, a CNOT chain
        shape = layer.shape(self.n_layers, n)

        def body(params):
            if hf is not None:
                qp.BasisState(hf, wires=range(n))
            layer.apply(params.reshape(shape), range(n))

        return body, rng.normal(0.0, 0.1, size=int(np.prod(shape)))

    def solve(self, problem: HamiltonianProblem) -> VQEResult:
        """Minimise the energy of ``problem`` and return the result."""
        if not isinstance(problem, HamiltonianProblem):
            raise TypeError(
                f"problem must be a HamiltonianProblem (see qml.solvers.h2, ...), got {type(problem).__name__}"
            )
        n = problem.n_qubits
        if n > self.max_qubits:
            raise ValueError(
                f"problem has {n} qubits; this VQE is limited to max_qubits={self.max_qubits} "
                "(raise max_qubits, --max-qubits in `qhybrid solve`, if the backend can hold the state)"
            )
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        body, x0 = self._build(problem, rng)
        hamiltonian = problem.hamiltonian
        gradient = self.optimizer in GRADIENT_OPTIMIZERS

        def energies(sim):
            return sim.energy_functions(body, hamiltonian, x0.size, gradient)

        sim = make_simulator(self.backend, n, self.shots, self.seed, body_check=energies)
        cost, value_and_grad = energies(sim)
        with sim.tracking():
            trace = minimize(
                cost,
                value_and_grad,
                x0,
                method=self.optimizer,
                maxiter=self.maxiter,
                stepsize=self.stepsize,
                tol=self.tol,
                rng=rng,
            )
            energy = cost(trace.x)
        exact = problem.exact_energy() if problem.is_diagonalisable() else None
        return VQEResult(
            energy=energy,
            exact_energy=exact,
            error=None if exact is None else energy - exact,
            params=trace.x,
            history=trace.history,
            n_evaluations=sim.executions,
            wall_time=time.perf_counter() - t0,
            ansatz=self.ansatz,
            backend=sim.backend,
            optimizer=self.optimizer,
            n_params=x0.size,
            n_cost_evaluations=trace.evaluations + 1,
            converged=trace.converged,
        )
