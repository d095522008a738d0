"""qhybrid's batched Aer device: a PennyLane device that runs whole batches of tapes in few Aer calls.

PennyLane hands a device a batch of tapes (a broadcast batch of inputs, parameter-shifted copies, an
optimiser's evaluations). The stock Qiskit plugin converts, transpiles and submits each circuit on its
own. This device instead

1. groups the tapes by *structure* (gate names, wires, measured Pauli words) and turns every tape, and every
   sample of a broadcast tape, into one *row* of gate angles (:mod:`.compile`),
2. compiles each structure once into a parameterised Qiskit circuit made of gates Aer runs natively (no
   ``transpile``), cached across calls,
3. evaluates all rows of a structure in one Aer call: exact values (:mod:`.exact`, with *joint* experiments
   whose extra qubits index the rows, :mod:`.joint`), or samples (:mod:`.sampling`).

Derivatives are computed by the device itself:

* ``"adjoint"`` (exact results: the statevector without noise, :mod:`.adjoint`; the density matrix with
  depolarising noise, :mod:`.density_adjoint`): a training step is two Aer calls whatever the batch size.
* ``"parameter-shift"`` (every Aer method, shots and noise included, :mod:`.param_shift`): all shifted rows
  of all tapes in one batched run.
* ``"device"`` / ``"best"``: adjoint where it applies and fits in memory, parameter shift otherwise;
  :attr:`AerDevice.last_gradient_method` says which ran.

This class only decides and dispatches; the simulator, its cache and counters live in :class:`.AerRunner`.

Example:
    >>> import pennylane as qp
    >>> from qhybrid.qml.aer import AerDevice
    >>> dev = AerDevice(wires=2)
    >>> @qp.qnode(dev, diff_method="adjoint")
    ... def circuit(x):
    ...     qp.RX(x, 0)
    ...     qp.CNOT([0, 1])
    ...     return qp.expval(qp.Z(1))
    >>> round(float(circuit(qp.numpy.array(0.3))), 6)
    0.955336
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pennylane as qp
from pennylane import measurements as qpm
from pennylane.devices import Device, ExecutionConfig
from pennylane.transforms.core import CompilePipeline

from ..device_noise import BackendCompiler, backend_noise, is_backend
from ..noise import PENNYLANE_NOISE_HINT, as_aer_noise_model, is_pennylane_noise
from . import adjoint, coefficients, density_adjoint, general, param_shift, preprocess
from .exact import execute_exact, keep_final_states
from .memory import MemoryBudget
from .runner import AerRunner
from .sampling import sampled_results


def _pauli_expval(mp) -> bool:
    """An expectation value of Pauli words (the adjoint paths' measurement)."""
    return isinstance(mp, qpm.ExpectationMP) and not general.is_general(mp)


def _channels(tape) -> bool:
    """Whether the tape holds PennyLane channels (run as Aer's kraus instruction; parameter shift only)."""
    return any(isinstance(op, qp.operation.Channel) for op in tape.operations)


def _format_jacobian(jac, n_meas: int, n_params: int):
    """PennyLane's jacobian layout: squeeze the measurement and parameter axes of length one."""
    if n_params == 0:
        return ()
    if n_meas == 1 and n_params == 1:
        return jac[0][0]
    if n_meas == 1:
        return tuple(jac[0])
    if n_params == 1:
        return tuple(row[0] for row in jac)
    return tuple(tuple(row) for row in jac)


def _as_list(circuits) -> tuple[list, bool]:
    single = isinstance(circuits, qp.tape.QuantumScript)
    return ([circuits] if single else list(circuits)), single


class AerDevice(Device):
    """A PennyLane device executing batches of tapes on Qiskit Aer with one run per circuit structure.

    Args:
        wires: number of wires or their labels.
        method: Aer simulation method: ``"statevector"``, ``"density_matrix"`` or
            ``"matrix_product_state"``.
        shots: default number of samples per circuit for tapes that set none (``None``: exact results).
        seed: seed for Aer's sampling; each call draws a fresh seed from a generator seeded with it.
        noise: what ``make_device`` takes as noise: a :class:`~qhybrid.qml.noise.NoiseSpec`, a dict of its
            fields, a ``qiskit_aer.noise.NoiseModel`` (the plugin's way: ``qml.device("qhybrid.aer",
            wires=3, method="density_matrix", noise={"depolarizing_1q": 0.01})``), or a Qiskit
            ``BackendV2`` or fake backend name (``"fake_manila"``): its noise model, on circuits compiled
            to its basis gates and coupling map (:mod:`qhybrid.qml.device_noise`).
        noise_model: a ``qiskit_aer.noise.NoiseModel`` (density matrix, or any method with shots).
        max_parallel_threads: Aer's thread count (``None``: Aer's default, all cores).
        adjoint_memory: bytes the adjoint method may hold in saved states at once (default: a quarter of
            available memory, at most 2 GiB).
        **aer_options: passed to ``AerSimulator``.
    """

    def __init__(
        self,
        wires,
        *,
        method: str = "statevector",
        shots: int | None = None,
        seed: int | None = None,
        noise=None,
        noise_model=None,
        max_parallel_threads: int | None = None,
        adjoint_memory: int | None = None,
        **aer_options,
    ):
        if isinstance(wires, int):
            wires = range(wires)
        super().__init__(wires=wires)
        # qhybrid keeps shots on the device for every backend (PennyLane deprecates passing them to its own
        # devices); QNodes carry them into their tapes, so sampled measurements are validated as such.
        self._shots = qpm.Shots(shots)
        backend = None
        self._pennylane_noise = None
        if noise is not None:
            if noise_model is not None:
                raise ValueError("give noise= or noise_model=, not both")
            if is_pennylane_noise(noise):
                if method != "density_matrix":
                    raise ValueError(f"method {method!r}: {PENNYLANE_NOISE_HINT}")
                self._pennylane_noise = noise  # its channels join the tapes in preprocessing
            elif is_backend(noise):
                backend, noise_model = backend_noise(noise, len(self.wires), shots)
            else:
                noise_model = as_aer_noise_model(noise)
        if max_parallel_threads is not None:
            aer_options["max_parallel_threads"] = max_parallel_threads
        self._runner = AerRunner(
            self.wires,
            method,
            shots,
            seed,
            noise_model,
            MemoryBudget.default(adjoint_memory),
            self._on_run,
            aer_options,
        )
        if backend is not None:  # a device's noise: every circuit compiled for that device first
            self._runner.compiler = BackendCompiler(backend, seed)
        #: The gradient method of the most recent derivative computation ("adjoint" or "parameter-shift").
        self.last_gradient_method: str | None = None

    method = property(lambda self: self._runner.method, doc="The Aer simulation method.")
    default_shots = property(lambda self: self._runner.default_shots, doc="Samples per circuit by default.")
    noise_model = property(lambda self: self._runner.noise_model, doc="The Aer noise model, if any.")
    backend = property(
        lambda self: None if self._runner.compiler is None else self._runner.compiler.backend,
        doc="The Qiskit backend whose noise this device simulates (circuits compiled for it), if any.",
    )
    circuit_executions = property(
        lambda self: self._runner.circuit_executions,
        doc="Circuit executions over the device's life: parameter sets run, each row of a joint run counted.",
    )
    aer_calls = property(lambda self: self._runner.aer_calls, doc="Calls into Aer over the device's life.")
    aer_seconds = property(lambda self: self._runner.aer_seconds, doc="Seconds spent inside Aer calls.")

    @property
    def adjoint_memory(self) -> int:
        """Bytes the adjoint method may hold in saved states at once."""
        return self._runner.memory.adjoint

    @adjoint_memory.setter
    def adjoint_memory(self, value: int) -> None:
        self._runner.memory.adjoint = value

    @property
    def joint_runs(self) -> bool:
        """Whether exact statevector batches of up to 10 wires run as one joint experiment (:mod:`.joint`).

        ``False`` runs every row as a parameter set of one circuit instead: faster for circuits dense in
        parameterised gates, each of which a joint run turns into a diagonal over the row register (the
        kernels' feature maps, :mod:`qhybrid.qml.kernels`). Only the noiseless statevector method has joint
        runs; setting ``True`` elsewhere leaves them off.
        """
        return self._runner.joint

    @joint_runs.setter
    def joint_runs(self, value: bool) -> None:
        self._runner.joint = bool(value) and self.method == "statevector" and self.noise_model is None

    @property
    def memory(self) -> MemoryBudget:
        """The budgets the device plans against (available memory, adjoint states, joint registers)."""
        return self._runner.memory

    @property
    def name(self) -> str:
        # the names qml.device loads it by (PennyLane's device tests read "mixed" as "returns density matrices")
        return "qhybrid.aer.mixed" if self.method == "density_matrix" else "qhybrid.aer"

    def __repr__(self) -> str:
        shots = f", shots={self.default_shots}" if self.default_shots else ""
        return f"<AerDevice method={self.method} wires={len(self.wires)}{shots}>"

    @property
    def cache_info(self) -> dict:
        """Hits, misses and size of the compiled-structure cache."""
        cache = self._runner.cache
        return {"hits": cache.hits, "misses": cache.misses, "size": len(cache)}

    def _on_run(self, executed: int) -> None:
        if self.tracker.active:
            self.tracker.update(executions=executed, aer_calls=1)
            self.tracker.record()

    # ----------------------------------------------------------------------------------- configuration
    def _adjoint_possible(self, circuit=None) -> bool:
        if self.default_shots or self.backend is not None:
            return False
        if self.method == "statevector":
            if self.noise_model is not None:
                return False
        elif self.method != "density_matrix" or not density_adjoint.noise_allows_adjoint(self.noise_model):
            return False
        if circuit is None:
            return True
        return (
            not circuit.shots
            and all(_pauli_expval(m) for m in circuit.measurements)
            and not _channels(circuit)
        )

    def supports_derivatives(self, execution_config=None, circuit=None) -> bool:
        if execution_config is None:
            return True
        if execution_config.derivative_order != 1:
            return False
        method = execution_config.gradient_method
        if method == "adjoint":
            return self._adjoint_possible(circuit)
        return method in ("device", "best", "parameter-shift")

    def supports_vjp(self, execution_config=None, circuit=None) -> bool:
        return self.supports_derivatives(execution_config, circuit)

    def setup_execution_config(self, config=None, circuit=None) -> ExecutionConfig:
        config = config or ExecutionConfig()
        updates = {"mcm_config": preprocess.mcm_config(config.mcm_config, self.name)}
        if config.gradient_method == "best":
            updates["gradient_method"] = "device"
        method = updates.get("gradient_method", config.gradient_method)
        if method in ("device", "adjoint", "parameter-shift"):
            # A scalar energy's jacobian costs what its VJP does, so it is computed with the value, in one
            # device call (as lightning does): that spares PennyLane's second pass over the tapes, 2-5 ms of
            # a QAOA step. Anything with more outputs (a layer's read-outs, a batch) is differentiated by VJP.
            scalar = circuit is not None and self._scalar_energy(circuit)
            if config.use_device_gradient is None:
                updates["use_device_gradient"] = True
            if config.use_device_jacobian_product is None:
                updates["use_device_jacobian_product"] = not scalar
            if config.grad_on_execution is None:
                updates["grad_on_execution"] = scalar
        return replace(config, **updates)

    def _scalar_energy(self, circuit) -> bool:
        """Whether a tape is one exact expectation value, not broadcast, whose trainable parameters are all
        gate angles (so computing its derivatives with every value can neither fail nor cost more than the
        VJP a backward pass would ask for)."""
        (m, *rest) = circuit.measurements or (None,)
        n_gate_params = sum(len(op.data) for op in circuit.operations)
        return (
            not rest
            and isinstance(m, qp.measurements.ExpectationMP)
            and circuit.batch_size is None
            and not self._runner.shots_of(circuit)
            and all(p < n_gate_params for p in circuit.trainable_params)
        )

    def preprocess_transforms(self, execution_config=None) -> CompilePipeline:
        return preprocess.pipeline(
            self.wires, self.method, self.name, execution_config or ExecutionConfig(), self._pennylane_noise
        )

    # ------------------------------------------------------------------------------------------ running
    def execute(self, circuits, execution_config=None):
        tapes, single = _as_list(circuits)
        results: list = [None] * len(tapes)
        runner = self._runner
        transformed = [
            p for p, t in enumerate(tapes) if any(preprocess.is_transform(m) for m in t.measurements)
        ]
        for p in transformed:
            results[p] = self._measurement_transform(tapes[p])
        rest = sorted(set(range(len(tapes))) - set(transformed))
        exact = [p for p in rest if not runner.shots_of(tapes[p])]
        sampled = [p for p in rest if runner.shots_of(tapes[p])]
        runner.new_call()
        if exact:
            keep = self._keeps_forward_states(execution_config, [tapes[p] for p in exact])
            keeper = None
            if keep:
                keeper = (
                    density_adjoint.keep_matrices if self.method == "density_matrix" else keep_final_states
                )
            values = execute_exact(runner, [tapes[p] for p in exact], keeper)
            for pos, res in zip(exact, values, strict=True):
                results[pos] = res
        if sampled:
            rows = sampled_results(runner, [(tapes[p], None) for p in sampled], self.name)
            for pos, res in zip(sampled, rows, strict=True):
                results[pos] = res[0] if tapes[pos].batch_size is None else _stack_rows(res)
        if self.tracker.active:
            self.tracker.update(batches=1, simulations=len(tapes))
            self.tracker.record()
        return results[0] if single else tuple(results)

    def _measurement_transform(self, tape):
        """A tape measuring a ``MeasurementTransform``: its ``process(tape, device)`` computes the value."""
        if len(tape.measurements) != 1:
            raise ValueError(
                f"a measurement transform ({tape.measurements}) must be its tape's only measurement on the "
                "Aer device"
            )
        return tape.measurements[0].process(tape, self)

    def _keeps_forward_states(self, config, tapes) -> bool:
        """Whether a forward pass should keep the states an adjoint gradient of it will need.

        A training step runs the forward pass, then the vector-Jacobian product; when the states are small
        the forward run saves them (the final statevectors; on the density matrix, the matrices at the
        trainable rotations), so the gradient runs only the reversed circuits. Only the latest call's
        states are kept.
        """
        method = getattr(config, "gradient_method", None)
        return (
            method in ("device", "adjoint")
            and self._adjoint_possible()
            and all(t.trainable_params and all(_pauli_expval(m) for m in t.measurements) for t in tapes)
        )

    # ------------------------------------------------------------------------------------- derivatives
    def _resolve_gradient(self, config, tapes) -> str:
        requested = getattr(config, "gradient_method", None) or "device"
        if requested == "parameter-shift":
            return "parameter-shift"
        possible = self._adjoint_possible() and all(
            not self._runner.shots_of(t)
            and all(_pauli_expval(m) for m in t.measurements)
            and not _channels(t)
            for t in tapes
        )
        if requested == "adjoint" and not possible:
            raise ValueError(
                "adjoint differentiation needs exact expectation values (no shots) on the statevector method "
                "without noise, or on the density-matrix method with depolarising noise only (no thermal "
                "relaxation, readout or other errors); use diff_method='parameter-shift'"
            )
        return "adjoint" if possible else "parameter-shift"

    def _param_shift(self, tapes) -> list:
        """Jacobians ``[measurement][trainable]`` by batched parameter shift, exact and sampled tapes apart."""
        runner = self._runner
        jacs: list = [None] * len(tapes)
        exact = [p for p, t in enumerate(tapes) if not runner.shots_of(t)]
        sampled = [p for p, t in enumerate(tapes) if runner.shots_of(t)]
        if exact:
            for pos, jac in zip(
                exact, param_shift.param_shift_exact(runner, [tapes[p] for p in exact]), strict=True
            ):
                jacs[pos] = jac
        if sampled:
            for pos, jac in zip(
                sampled,
                param_shift.param_shift_sampled(runner, [tapes[p] for p in sampled], self.name),
                strict=True,
            ):
                jacs[pos] = jac
        return jacs

    @property
    def _adjoint(self):
        """The adjoint gradient of this method: on the statevector, or on the density matrix."""
        return density_adjoint.adjoint if self.method == "density_matrix" else adjoint.adjoint

    def _adjoint_fallback(self, tape, cotangent):
        """Parameter shift for a tape whose adjoint states do not fit in memory."""
        self.last_gradient_method = "parameter-shift"
        jac = self._param_shift([tape])[0]
        return jac if cotangent is None else param_shift.contract(tape, jac, cotangent)

    def _raw_jacobians(self, tapes, config) -> list:
        """Jacobians as nested lists ``[measurement][trainable]`` of arrays.

        Trainable observable coefficients are split off (:mod:`.coefficients`): the gate parameters go
        through the gradient method, the coefficients' terms are measured in one more execution.
        """
        terms = [coefficients.coefficient_terms(t) for t in tapes]
        if not any(terms):
            return self._gate_jacobians(tapes, config)
        gate_tapes = [coefficients.gate_tape(t) if ts else t for t, ts in zip(tapes, terms, strict=True)]
        with_gates = [i for i, t in enumerate(gate_tapes) if t.trainable_params]
        gate_jacs = [[[] for _ in t.measurements] for t in tapes]
        for i, jac in zip(
            with_gates, self._gate_jacobians([gate_tapes[i] for i in with_gates], config), strict=True
        ):
            gate_jacs[i] = jac
        split = [i for i, ts in enumerate(terms) if ts]
        values = self.execute([coefficients.term_tape(tapes[i], terms[i]) for i in split], config)
        for i, vals in zip(split, values, strict=True):
            gate_jacs[i] = coefficients.merge(tapes[i], gate_jacs[i], terms[i], vals, len(self.wires))
        return gate_jacs

    def _gate_jacobians(self, tapes, config) -> list:
        """Jacobians by gate parameters (every trainable parameter of ``tapes`` is one)."""
        method = self._resolve_gradient(config, tapes)
        self.last_gradient_method = method
        if method == "adjoint":
            return self._adjoint(self._runner, tapes, None, lambda i: self._adjoint_fallback(tapes[i], None))
        return self._param_shift(tapes)

    def compute_derivatives(self, circuits, execution_config=None):
        tapes, single = _as_list(circuits)
        jacs = [
            _format_jacobian(j, len(t.measurements), len(t.trainable_params))
            for t, j in zip(tapes, self._raw_jacobians(tapes, execution_config), strict=True)
        ]
        return jacs[0] if single else tuple(jacs)

    def execute_and_compute_derivatives(self, circuits, execution_config=None):
        return self.execute(circuits, execution_config), self.compute_derivatives(circuits, execution_config)

    def compute_vjp(self, circuits, cotangents, execution_config=None):
        tapes, single = _as_list(circuits)
        cots = [cotangents] if single else list(cotangents)
        method = self._resolve_gradient(execution_config, tapes)
        self.last_gradient_method = method
        if method == "adjoint" and not any(coefficients.coefficient_terms(t) for t in tapes):
            vjps = self._adjoint(
                self._runner, tapes, cots, lambda i: self._adjoint_fallback(tapes[i], cots[i])
            )
        else:
            jacs = self._raw_jacobians(tapes, execution_config)
            vjps = [param_shift.contract(t, j, c) for t, j, c in zip(tapes, jacs, cots, strict=True)]
        return vjps[0] if single else tuple(vjps)

    def execute_and_compute_vjp(self, circuits, cotangents, execution_config=None):
        return self.execute(circuits, execution_config), self.compute_vjp(
            circuits, cotangents, execution_config
        )


class AerMixedDevice(AerDevice):
    """:class:`AerDevice` on Aer's density-matrix method, as PennyLane loads it:
    ``qml.device("qhybrid.aer.mixed", wires=3, noise={"depolarizing_1q": 0.01})``. ``qml.state()`` returns
    the density matrix, as on ``default.mixed``."""

    def __init__(self, wires, *, method: str = "density_matrix", **options):
        if method != "density_matrix":
            raise ValueError(
                f"qhybrid.aer.mixed runs the density_matrix method, not {method!r}; use qhybrid.aer"
            )
        super().__init__(wires, method=method, **options)


def _stack_rows(rows: list):
    """One broadcast result from per-sample results (a value, or tuples over shot partitions and
    measurements): every leaf gets the batch as its leading axis."""
    if isinstance(rows[0], tuple):
        return tuple(_stack_rows([r[m] for r in rows]) for m in range(len(rows[0])))
    return np.stack(rows)
