"""qhybrid's batched Aer device: a PennyLane device that runs whole batches of tapes in few Aer calls.

PennyLane hands a device a batch of tapes (a broadcast batch of inputs, parameter-shifted copies, an
optimiser's evaluations). The stock Qiskit plugin converts, transpiles and submits each circuit on its
own. This device instead

1. groups the tapes by *structure* (gate names, wires, measured Pauli words) and turns every tape, and every
   sample of a broadcast tape, into one *row* of gate angles,
2. compiles each structure once into a parameterised Qiskit circuit made of gates Aer runs natively (no
   ``transpile``), cached across calls,
3. evaluates all rows of a structure in one Aer call: as ``parameter_binds`` of the cached circuit, or, on
   the exact statevector at small widths, as one *joint* experiment whose extra qubits index the rows
   (:mod:`qml.aer_joint`), because every Aer experiment has a fixed cost that dominates small circuits.

Derivatives are computed by the device itself:

* ``"adjoint"`` (exact statevector only): one joint forward experiment saves every row's state after every
  rotation; one joint reversed experiment, started with ``set_statevector`` from the cotangent-weighted
  observables applied to the final states, saves the back-propagated states at the same points; each
  derivative is ``2 Im <lambda_k| G_k |psi_k>`` for the gate's generator ``G_k``. A training step (forward,
  then vector-Jacobian product) is two Aer experiments whatever the batch size; the forward pass keeps its
  states for the gradient when they are small.
* ``"parameter-shift"`` (every Aer method, shots and noise included): all shifted rows of all tapes in one
  batched run, with the exact two-term rule of each gate (controlled rotations are compiled to single-qubit
  rotations, so no four-term rules are needed).
* ``"device"`` / ``"best"``: adjoint where it applies and fits in memory, parameter shift otherwise;
  :attr:`AerDevice.last_gradient_method` says which ran.

Example:
    >>> import pennylane as qp
    >>> from qhybrid.qml.aer_device import AerDevice
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

import os
import time
from dataclasses import replace

import numpy as np
import pennylane as qp
from pennylane import measurements as qpm
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.preprocess import decompose, validate_device_wires, validate_measurements
from pennylane.transforms.core import CompilePipeline
from qiskit_aer import AerError, AerSimulator

from .aer_compile import NATIVE_OPS, StructureCache, TapeData, analyse_tape, apply_pauli_word
from .aer_joint import JointCircuitBuilder

#: Aer simulation methods this device can drive.
AER_METHODS = ("statevector", "density_matrix", "matrix_product_state")

# Aer slows down when one job carries very many parameter sets (measured: 102 -> 342 us per experiment at
# 4 qubits); jobs are split into chunks of at most this many sets.
_MAX_BINDS_PER_JOB = 1024
# A forward pass keeps the states of its adjoint gradient up to this size (see _keeps_forward_states).
_FORWARD_STATE_BYTES = 256 * 1024**2
# Joint (batch-as-register) runs: at most this many bytes of row states per Aer experiment, and qubits.
_JOINT_BYTES = 512 * 1024**2
_MAX_JOINT_QUBITS = 28
# Plain forward values use joint runs only up to this width: beyond it one experiment per row is already
# large enough to hide Aer's per-experiment cost, and separate small states stay in cache (measured at 12
# qubits: 1160 parameter-shift rows took 1.3 s as parameter sets against 4.5 s as one joint state).
_JOINT_VALUES_MAX_WIRES = 10


def _batched_entry(per_row: np.ndarray, broadcast: bool) -> np.ndarray:
    """A jacobian entry of a broadcast tape, laid out as the output's shape then the parameter's.

    ``per_row[b]`` is sample ``b``'s derivative. By a shared parameter that is the entry itself; by a
    broadcast one (shape ``(B,)``) only sample ``b``'s own element matters, so the entry is diagonal.
    """
    if not broadcast:
        return per_row
    batch = per_row.shape[0]
    full = np.zeros(per_row.shape + (batch,))
    index = np.arange(batch)
    full[index, ..., index] = per_row
    return full


class _MixedVJP(tuple):
    """A VJP whose entries differ in shape: one value per sample for broadcast parameters, a scalar for
    shared ones. PennyLane's torch interface converts the entries one by one, but first asks
    ``np.squeeze(vjp).shape``, which a ragged tuple cannot answer; this answers it without converting."""

    def squeeze(self, axis=None):
        return np.empty(len(self))


def _stopping_condition(op) -> bool:
    return op.name in NATIVE_OPS


def _analytic_mp(mp) -> bool:
    return isinstance(mp, qpm.ExpectationMP | qpm.VarianceMP | qpm.ProbabilityMP | qpm.StateMP)


def _sample_mp(mp) -> bool:
    return isinstance(mp, qpm.SampleMeasurement) and not isinstance(mp, qpm.StateMP)


def available_memory_bytes() -> int:
    """Memory the operating system reports as available (``MemAvailable``), or physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class AerDevice(Device):
    """A PennyLane device executing batches of tapes on Qiskit Aer with one run per circuit structure.

    Args:
        wires: number of wires or their labels.
        method: Aer simulation method: ``"statevector"``, ``"density_matrix"`` or
            ``"matrix_product_state"``.
        shots: default number of samples per circuit for tapes that set none (``None``: exact results).
        seed: seed for Aer's sampling; each call draws a fresh seed from a generator seeded with it.
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
        noise_model=None,
        max_parallel_threads: int | None = None,
        adjoint_memory: int | None = None,
        **aer_options,
    ):
        if isinstance(wires, int):
            wires = range(wires)
        super().__init__(wires=wires)
        if method not in AER_METHODS:
            raise ValueError(f"unknown Aer method {method!r}; allowed: {', '.join(AER_METHODS)}")
        self.method = method
        self.default_shots = shots
        self.noise_model = noise_model
        self._rng = np.random.default_rng(seed)
        # max_parallel_experiments=0 lets Aer spread the many small experiments of a batch (parameter sets)
        # over the cores.
        options = {"method": method, "precision": "double", "max_parallel_experiments": 0}
        if max_parallel_threads is not None:
            options["max_parallel_threads"] = max_parallel_threads
        options.update(aer_options)
        if noise_model is not None:
            options["noise_model"] = noise_model
        try:
            self._simulator = AerSimulator(**options)
        except AerError as exc:
            raise ValueError(f"bad AerSimulator option: {exc}; see qiskit_aer.AerSimulator's options") from None
        self._wire_index = {w: i for i, w in enumerate(self.wires)}
        self._cache = StructureCache()
        self.adjoint_memory = adjoint_memory or min(available_memory_bytes() // 4, 2 * 1024**3)
        #: Circuit executions over the device's life: parameter sets run, each row of a joint run counted.
        self.circuit_executions = 0
        #: Calls into Aer over the device's life, and the seconds spent inside them.
        self.aer_calls = 0
        self.aer_seconds = 0.0
        #: The gradient method of the most recent derivative computation ("adjoint" or "parameter-shift").
        self.last_gradient_method: str | None = None
        # Forward states of the latest execute call, by (structure key, gate angles); see _keeps_forward_states.
        self._forward_states: dict = {}
        # Exact statevector runs simulate a whole batch as one joint circuit (see qml.aer_joint).
        self._joint = method == "statevector" and noise_model is None

    @property
    def name(self) -> str:
        return f"qhybrid.aer.{self.method}"

    def __repr__(self) -> str:
        shots = f", shots={self.default_shots}" if self.default_shots else ""
        return f"<AerDevice method={self.method} wires={len(self.wires)}{shots}>"

    @property
    def cache_info(self) -> dict:
        """Hits, misses and size of the compiled-structure cache."""
        return {"hits": self._cache.hits, "misses": self._cache.misses, "size": len(self._cache)}

    # ----------------------------------------------------------------------------------- configuration
    def _shots_of(self, tape) -> int | None:
        if tape.shots:
            return tape.shots.total_shots
        return self.default_shots

    def _adjoint_possible(self, circuit=None) -> bool:
        if self.method != "statevector" or self.noise_model is not None or self.default_shots:
            return False
        if circuit is None:
            return True
        return not circuit.shots and all(isinstance(m, qpm.ExpectationMP) for m in circuit.measurements)

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
        updates = {}
        if config.gradient_method == "best":
            updates["gradient_method"] = "device"
        method = updates.get("gradient_method", config.gradient_method)
        if method in ("device", "adjoint", "parameter-shift"):
            if config.use_device_gradient is None:
                updates["use_device_gradient"] = True
            if config.use_device_jacobian_product is None:
                updates["use_device_jacobian_product"] = True
            if config.grad_on_execution is None:
                updates["grad_on_execution"] = False
        return replace(config, **updates)

    def preprocess_transforms(self, execution_config=None) -> CompilePipeline:
        program = CompilePipeline()
        program.add_transform(
            decompose,
            stopping_condition=_stopping_condition,
            device_wires=self.wires,
            name=self.name,
            skip_initial_state_prep=False,  # state preparation becomes gates, so it caches like any other
        )
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(
            validate_measurements,
            analytic_measurements=_analytic_mp,
            sample_measurements=_sample_mp,
            name=self.name,
        )
        # A broadcast tape arrives whole and its batch becomes rows of one Aer run (expanding it into one
        # tape per sample cost more in PennyLane than the simulation itself). PennyLane turns full jacobians
        # into VJPs itself only for parameters of one shape, so without device VJPs tapes are expanded.
        config = execution_config or ExecutionConfig()
        if config.gradient_method is not None and config.use_device_jacobian_product is False:
            program.add_transform(qp.transforms.broadcast_expand)
        return program

    # ------------------------------------------------------------------------------------------ running
    def _run(self, circuits, binds, shots: int | None, memory: bool = False, rows: int | None = None) -> list[dict]:
        """One Aer job. Returns one data dict per (circuit, parameter set), circuit-major.

        ``rows``: how many circuit executions the job stands for (a joint circuit simulates many rows).
        """
        kwargs = {"shots": shots or 1}
        if binds is not None:
            kwargs["parameter_binds"] = binds
            kwargs["runtime_parameter_bind_enable"] = True
        if shots:
            kwargs["seed_simulator"] = int(self._rng.integers(2**31 - 1))
            kwargs["memory"] = memory
        start = time.perf_counter()
        result = self._simulator.run(circuits, **kwargs).result()
        self.aer_seconds += time.perf_counter() - start
        if not result.success:
            raise RuntimeError(f"Aer failed: {result.status}")
        self.aer_calls += 1
        n = len(result.results)
        executed = n if rows is None else rows
        self.circuit_executions += executed
        if self.tracker.active:
            self.tracker.update(executions=executed, aer_calls=1)
            self.tracker.record()
        if memory:
            return [{"memory": result.get_memory(i)} for i in range(n)]
        return [result.data(i) for i in range(n)]

    def _run_rows(self, circuit, structure, qvals: np.ndarray, shots=None, memory=False) -> list[dict]:
        """Run one circuit for every row of gate angles ``qvals`` (``(rows, n_gate_params)``), in chunks."""
        rows = qvals.shape[0]
        if structure.n_gate_params == 0:
            return self._run([circuit] * rows, None, shots, memory)
        out: list[dict] = []
        vec = structure.params
        for start in range(0, rows, _MAX_BINDS_PER_JOB):
            block = qvals[start : start + _MAX_BINDS_PER_JOB]
            binds = [{vec[j]: block[:, j].tolist() for j in range(structure.n_gate_params)}]
            out.extend(self._run([circuit], binds, shots, memory))
        return out

    def _group(self, tapes):
        """Group tapes by structure: ``{key: (structure, [(position, TapeData), ...])}``."""
        groups: dict = {}
        for pos, tape in enumerate(tapes):
            key, data, build = analyse_tape(tape, self._wire_index)
            if key not in groups:
                groups[key] = (self._cache.get(key, build), [])
            groups[key][1].append((pos, data))
        return groups

    @staticmethod
    def _values(structure, raw: dict, data: TapeData, linear: bool = False) -> list:
        """Measurement values of one row of an exact run.

        With ``linear`` a variance comes back as ``[<O>, <O^2>]``: both are linear in the state, so shift
        rules apply to them (not to the variance itself).
        """
        index = structure.word_index

        def expectation(words, coeffs):
            vals = np.array([float(raw[f"e{index[w]}"]) if w else 1.0 for w in words])
            return float(np.real(np.dot(coeffs, vals)))

        out = []
        for j, (m, c) in enumerate(zip(structure.meas, data.coeffs)):
            if m.kind == "expval":
                out.append(np.float64(expectation(m.words, c)))
            elif m.kind == "var":
                mean = expectation(m.words, c[0])
                square = expectation(m.sq_words, c[1])
                out.append(np.array([mean, square]) if linear else np.float64(square - mean**2))
            elif m.kind == "probs":
                out.append(np.asarray(raw[f"p{j}"], dtype=float))
            else:
                state = np.asarray(raw[f"s{j}"], dtype=complex)
                if structure.global_phase_params:
                    phase = sum(data.params[0, p] for p in structure.global_phase_params)
                    state = state * np.exp(-1j * phase)
                out.append(state)
        return out

    def _exact_rows(self, structure, qvals: np.ndarray, datas: list[TapeData], linear=False) -> list[list]:
        """Measurement values for each row of gate angles; ``datas[i]`` holds row ``i``'s coefficients."""
        if self._joint and structure.n_wires <= _JOINT_VALUES_MAX_WIRES:
            raws = self._raws_from_states(structure, self._joint_states(structure, qvals))
        else:
            raws = self._run_rows(structure.exact_circuit(self.method), structure, qvals)
        return [self._values(structure, raw, d, linear) for raw, d in zip(raws, datas)]

    def _joint_states(self, structure, qvals: np.ndarray) -> np.ndarray:
        """Final states ``(rows, 2**n)`` of every row, from joint experiments (one per chunk of rows)."""
        states = []
        for rows in self._chunks(structure, len(qvals), 3 * 16 * 2**structure.n_wires, _JOINT_BYTES):
            builder = JointCircuitBuilder(structure, qvals[rows])
            (data,) = self._run([builder.forward()], None, None, rows=rows.stop - rows.start)
            states.append(builder.split(data["psi"]))
        return np.vstack(states)

    @staticmethod
    def _chunks(structure, n_rows: int, bytes_per_row: int, budget: int):
        """Slices of rows whose joint simulation fits in ``budget`` bytes (powers of two: no padding waste)."""
        fit = max(1, budget // max(bytes_per_row, 1))
        fit = min(fit, 2 ** max(0, _MAX_JOINT_QUBITS - structure.n_wires))
        size = 1 << (fit.bit_length() - 1)
        return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]

    @staticmethod
    def _raws_from_states(structure, states: np.ndarray) -> list[dict]:
        """What the exact circuit would have saved (``e{i}``, ``p{j}``, ``s{j}``), from row states."""
        n = structure.n_wires
        tensor = states.reshape((len(states),) + (2,) * n)
        expvals = np.empty((len(states), len(structure.words)))
        for i, word in enumerate(structure.words):
            if word:
                applied = apply_pauli_word(tensor, word).reshape(len(states), -1)
                expvals[:, i] = np.real(np.einsum("bi,bi->b", states.conj(), applied))
        probs = {}
        for j, m in enumerate(structure.meas):
            if m.kind == "probs":
                full = (np.abs(tensor) ** 2).reshape((len(states),) + (2,) * n)
                others = tuple(1 + w for w in range(n) if w not in m.wires)
                marginal = full.sum(axis=others) if others else full
                # the remaining axes are in wire order; put them in the order the measurement asks for
                kept = sorted(m.wires)
                marginal = np.transpose(marginal, [0] + [1 + kept.index(w) for w in m.wires])
                probs[j] = marginal.reshape(len(states), -1)
        raws = []
        for r in range(len(states)):
            raw = {f"e{i}": expvals[r, i] for i, w in enumerate(structure.words) if w}
            for j, m in enumerate(structure.meas):
                if m.kind == "probs":
                    raw[f"p{j}"] = probs[j][r]
                elif m.kind == "state":
                    raw[f"s{j}"] = states[r]
            raws.append(raw)
        return raws

    def execute(self, circuits, execution_config=None):
        single = isinstance(circuits, qp.tape.QuantumScript)
        tapes = [circuits] if single else list(circuits)
        results: list = [None] * len(tapes)
        exact, sampled = [], []
        for pos, tape in enumerate(tapes):
            (sampled if self._shots_of(tape) else exact).append(pos)
        self._forward_states = {}
        if exact:
            keep = self._keeps_forward_states(execution_config, [tapes[p] for p in exact])
            for key, (structure, members) in self._group([tapes[p] for p in exact]).items():
                params, row_datas, slices = self._flatten(members)
                qvals = structure.gate_values(params)
                if keep and len(qvals) * 16 * 2**structure.n_wires <= _FORWARD_STATE_BYTES:
                    psi = self._joint_states(structure, qvals)
                    for row, state in zip(qvals, psi):
                        self._forward_states[(key, row.tobytes())] = state
                    raws = self._raws_from_states(structure, psi)
                    values = [self._values(structure, raw, d) for raw, d in zip(raws, row_datas)]
                else:
                    values = self._exact_rows(structure, qvals, row_datas)
                for (i, data), rows in zip(members, slices):
                    results[exact[i]] = self._assemble(data, values[rows])
        if sampled:
            # Broadcast tapes run as rows of one sampled run; with a shot vector they are expanded first.
            whole = [p for p in sampled if not tapes[p].shots.has_partitioned_shots]
            for pos, rows in zip(whole, self._sampled_results([(tapes[p], None) for p in whole])):
                results[pos] = rows[0] if tapes[pos].batch_size is None else self._stack_rows(rows)
            split = [p for p in sampled if tapes[p].shots.has_partitioned_shots]
            for pos, res in zip(split, self._expanded(
                [tapes[p] for p in split], lambda ts: [r[0] for r in self._sampled_results([(t, None) for t in ts])]
            )):
                results[pos] = res
        if self.tracker.active:
            self.tracker.update(batches=1, simulations=len(tapes))
            self.tracker.record()
        return results[0] if single else tuple(results)

    @staticmethod
    def _flatten(members):
        """The rows of a group: parameter matrix, one :class:`TapeData` per row, each member's row slice."""
        row_datas, slices, start = [], [], 0
        for _, data in members:
            if data.rows == 1:
                row_datas.append(data)
            else:
                row_datas.extend(TapeData(data.key, data.params[r : r + 1], data.coeffs) for r in range(data.rows))
            slices.append(slice(start, start + data.rows))
            start += data.rows
        return np.vstack([d.params for _, d in members]), row_datas, slices

    @staticmethod
    def _assemble(data: TapeData, row_values: list):
        """A tape's result from its rows' values: broadcast tapes stack rows along a leading axis."""
        if data.batch_size is None:
            vals = row_values[0]
        else:
            vals = [np.stack([rv[m] for rv in row_values]) for m in range(len(row_values[0]))]
        return vals[0] if len(vals) == 1 else tuple(vals)

    @staticmethod
    def _stack_rows(rows: list):
        """One broadcast result from per-sample results (a value, or a tuple over measurements)."""
        if isinstance(rows[0], tuple):
            return tuple(np.stack([r[m] for r in rows]) for m in range(len(rows[0])))
        return np.stack(rows)

    @staticmethod
    def _expanded(tapes, run) -> list:
        """``run`` on tapes with broadcast tapes split into one tape per sample, results recombined."""
        flat, fns = [], []
        for tape in tapes:
            if tape.batch_size is None:
                fns.append((len(flat), 1, None))
                flat.append(tape)
            else:
                parts, fn = qp.transforms.broadcast_expand(tape)
                fns.append((len(flat), len(parts), fn))
                flat.extend(parts)
        results = run(flat)
        return [results[i] if fn is None else fn(results[i : i + n]) for i, n, fn in fns]

    def _keeps_forward_states(self, config, tapes) -> bool:
        """Whether a forward pass should keep the states an adjoint gradient of it will need.

        A training step runs the forward pass, then the vector-Jacobian product; when the states are small
        the forward run saves them, so the gradient needs one Aer run (the reversed circuits) instead of
        two. Only the latest call's states are kept.
        """
        method = getattr(config, "gradient_method", None)
        return (
            method in ("device", "adjoint")
            and self._adjoint_possible()
            and all(t.trainable_params and all(isinstance(m, qpm.ExpectationMP) for m in t.measurements)
                    for t in tapes)
        )

    # ------------------------------------------------------------------------------------------- shots
    def _diagonalised(self, tape):
        """Tapes measuring only in the computational basis, and the function recombining their results."""
        tapes, fn1 = qp.transforms.split_non_commuting(tape)
        out, fns = [], []
        for t in tapes:
            (d,), fn = qp.transforms.diagonalize_measurements(t)
            if not all(_stopping_condition(op) for op in d.operations):
                (d,), fn_dec = decompose(d, stopping_condition=_stopping_condition, name=self.name)
            out.append(d)
            fns.append(fn)
        return out, lambda res: fn1([f((r,)) for f, r in zip(fns, res)])

    def _sample_rows(self, structure, qvals, shots) -> list[np.ndarray]:
        """Samples ``(shots, n_wires)`` of 0/1 for each row of gate angles (wire order of the device)."""
        raws = self._run_rows(structure.sampling_circuit(), structure, qvals, shots, memory=True)
        n = structure.n_wires
        out = []
        for raw in raws:
            # Memory strings read highest qubit first, and qubit n-1-w holds wire w: wire order already.
            buf = np.frombuffer("".join(raw["memory"]).encode(), dtype=np.uint8)
            out.append((buf.reshape(-1, n) - ord("0")).astype(np.int64))
        return out

    def _sampled_structure(self, tape):
        """Compile a diagonal tape's gates (measurements are processed from samples)."""
        bare = qp.tape.QuantumScript(tape.operations, [])
        key, data, build = analyse_tape(bare, self._wire_index)
        return self._cache.get(("sample",) + key, build), data

    def _process_samples(self, tape, samples, shots_obj):
        wire_order = self.wires
        res = []
        for mp in tape.measurements:
            if shots_obj.has_partitioned_shots:
                vals, start = [], 0
                for s in shots_obj:
                    vals.append(mp.process_samples(samples, wire_order, shot_range=(start, start + s)))
                    start += s
                res.append(tuple(vals))
            else:
                res.append(mp.process_samples(samples, wire_order))
        if shots_obj.has_partitioned_shots:
            per_shot = tuple(zip(*res))
            return tuple(r[0] if len(r) == 1 else tuple(r) for r in per_shot)
        return res[0] if len(res) == 1 else tuple(res)

    def _sampled_results(self, jobs) -> list[list]:
        """Results of tapes with shots, all structures batched into one Aer run each.

        ``jobs`` holds ``(tape, shifted)`` pairs: ``shifted`` is ``None`` (the tape as it is) or rows of the
        tape's gate angles (parameter shift), one result per row. Returns, per job, the list of results.
        """
        plans, groups = [], {}
        for j, (tape, shifted) in enumerate(jobs):
            shots_obj = tape.shots if tape.shots else qp.measurements.Shots(self.default_shots)
            diag_tapes, recombine = self._diagonalised(tape)
            rows = (tape.batch_size or 1) if shifted is None else shifted.shape[0]
            plans.append((diag_tapes, recombine, rows, shots_obj))
            for d_index, d in enumerate(diag_tapes):
                structure, data = self._sampled_structure(d)
                qvals = structure.gate_values(data.params)
                if shifted is not None:
                    # Diagonalising gates come after the tape's own gates and carry no trainable parameters.
                    extra = qvals[0, shifted.shape[1] :]
                    qvals = np.hstack([shifted, np.tile(extra, (rows, 1))])
                key = (id(structure), shots_obj.total_shots)
                groups.setdefault(key, (structure, shots_obj.total_shots, []))[2].append((j, d_index, qvals))
        samples = {}
        for structure, shots, members in groups.values():
            out = self._sample_rows(structure, np.vstack([q for _, _, q in members]), shots)
            start = 0
            for j, d_index, q in members:
                samples[(j, d_index)] = out[start : start + len(q)]
                start += len(q)
        results = []
        for j, (diag_tapes, recombine, rows, shots_obj) in enumerate(plans):
            per_diag = [
                [self._process_samples(d, smp, shots_obj) for smp in samples[(j, d_index)]]
                for d_index, d in enumerate(diag_tapes)
            ]
            results.append([recombine([pd[r] for pd in per_diag]) for r in range(rows)])
        return results

    # ------------------------------------------------------------------------------------- derivatives
    def _resolve_gradient(self, config, tapes) -> str:
        requested = getattr(config, "gradient_method", None) or "device"
        if requested == "parameter-shift":
            return "parameter-shift"
        possible = self._adjoint_possible() and all(
            not self._shots_of(t) and all(isinstance(m, qpm.ExpectationMP) for m in t.measurements)
            for t in tapes
        )
        if requested == "adjoint" and not possible:
            raise ValueError(
                "adjoint differentiation needs the exact statevector method without noise or shots and "
                "expectation values only; use diff_method='parameter-shift'"
            )
        return "adjoint" if possible else "parameter-shift"

    def compute_derivatives(self, circuits, execution_config=None):
        single = isinstance(circuits, qp.tape.QuantumScript)
        tapes = [circuits] if single else list(circuits)
        jacs = self._jacobians(tapes, execution_config)
        return jacs[0] if single else tuple(jacs)

    def execute_and_compute_derivatives(self, circuits, execution_config=None):
        return self.execute(circuits, execution_config), self.compute_derivatives(circuits, execution_config)

    def compute_vjp(self, circuits, cotangents, execution_config=None):
        single = isinstance(circuits, qp.tape.QuantumScript)
        tapes = [circuits] if single else list(circuits)
        cots = [cotangents] if single else list(cotangents)
        method = self._resolve_gradient(execution_config, tapes)
        self.last_gradient_method = method
        if method == "adjoint":
            vjps = self._adjoint(tapes, cots)
        else:
            jacs = self._jacobians(tapes, execution_config, raw=True)
            vjps = [self._contract(t, j, c) for t, j, c in zip(tapes, jacs, cots)]
        return vjps[0] if single else tuple(vjps)

    @staticmethod
    def _contract(tape, jac, cotangent):
        """The VJP of one tape: ``sum_m <cotangent_m, jac[m][t]>`` for every trainable parameter ``t``.

        A broadcast parameter gets one value per sample (its own row's), any other the sum over rows.
        Without broadcast parameters the VJP is one array (not a tuple of scalars): PennyLane's torch
        interface then converts it once instead of once per parameter.
        """
        cot_list = [cotangent] if len(tape.measurements) == 1 else list(cotangent)
        broadcast = AerDevice._broadcast_trainables(tape)
        out = []
        for t in range(len(tape.trainable_params)):
            # jac[m][t] has the measurement's shape followed by the parameter's: contract the former
            terms = sum(
                np.tensordot(np.asarray(c, dtype=float), np.asarray(jac[m][t], dtype=float), axes=np.ndim(c))
                for m, c in enumerate(cot_list)
            )
            out.append(terms if broadcast[t] else np.float64(terms))
        return _MixedVJP(out) if any(broadcast) else np.array(out, dtype=float)

    @staticmethod
    def _broadcast_trainables(tape) -> list[bool]:
        if tape.batch_size is None:
            return [False] * len(tape.trainable_params)
        return [np.ndim(p) > 0 for p in tape.get_parameters(trainable_only=True)]

    def execute_and_compute_vjp(self, circuits, cotangents, execution_config=None):
        return self.execute(circuits, execution_config), self.compute_vjp(circuits, cotangents, execution_config)

    @staticmethod
    def _trainable_slots(tape, structure) -> list[int]:
        slots = list(tape.trainable_params)
        if any(s >= structure.n_params for s in slots):
            raise ValueError(
                "trainable observable coefficients are not supported by the Aer device; pass the "
                "Hamiltonian's coefficients as constants"
            )
        return slots

    @staticmethod
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

    def _jacobians(self, tapes, config, raw: bool = False) -> list:
        """Jacobians of tapes; ``raw`` gives nested lists ``[measurement][trainable]`` of arrays."""
        method = self._resolve_gradient(config, tapes)
        self.last_gradient_method = method
        if method == "adjoint":
            out = self._adjoint(tapes, None)
        else:
            out = self._param_shift(tapes)
        if raw:
            return out
        return [self._format_jacobian(j, len(t.measurements), len(t.trainable_params)) for t, j in zip(tapes, out)]

    def _param_shift(self, tapes) -> list:
        """Batched parameter shift: every shifted parameter set of every tape of a structure in one run."""
        jacs: list = [None] * len(tapes)
        exact_pos = [p for p, t in enumerate(tapes) if not self._shots_of(t)]
        groups = self._group([tapes[p] for p in exact_pos]).values() if exact_pos else []
        for structure, members in groups:
            rows: list = []  # (shifted parameters, index of the member it belongs to)
            plan = []
            has_var = any(m.kind == "var" for m in structure.meas)
            _, row_datas, _ = self._flatten(members)
            row = 0
            for i, data in members:
                per_row = []
                for base in structure.gate_values(data.params):
                    base_row = None
                    if has_var:  # the chain rule of a variance needs the unshifted mean
                        rows.append((base, row))
                        base_row = len(rows) - 1
                    per_row.append((self._shift_plan(tapes[exact_pos[i]], structure, base, rows, row), base_row))
                    row += 1
                plan.append((exact_pos[i], data, per_row))
            values = []
            if rows:
                qvals = np.stack([r[0] for r in rows])
                values = self._exact_rows(structure, qvals, [row_datas[r] for _, r in rows], linear=True)
            for pos, data, per_row in plan:
                jac_rows = [
                    self._combine(tapes[pos], entries, values, structure.meas, base_row)
                    for entries, base_row in per_row
                ]
                jacs[pos] = self._stack_jacobian(data, self._trainable_slots(tapes[pos], structure), jac_rows)
        sampled = [p for p in range(len(tapes)) if jacs[p] is None]
        for pos in sampled:
            tape = tapes[pos]
            if tape.batch_size is None:
                continue
            parts, _ = qp.transforms.broadcast_expand(tape)
            rows = self._param_shift_sampled(parts)
            jacs[pos] = [
                [np.stack([np.asarray(r[m][t]) for r in rows]) for t in range(len(rows[0][m]))]
                for m in range(len(rows[0]))
            ]
        plain = [p for p in sampled if jacs[p] is None]
        if plain:
            for pos, jac in zip(plain, self._param_shift_sampled([tapes[p] for p in plain])):
                jacs[pos] = jac
        return jacs

    @staticmethod
    def _stack_jacobian(data: TapeData, slots: list[int], jac_rows: list) -> list:
        """A tape's jacobian ``[measurement][trainable]`` from its rows' (row ``b``'s derivative by a shared
        parameter, or by its own element of a broadcast one)."""
        if data.batch_size is None:
            return jac_rows[0]
        return [
            [_batched_entry(np.stack([jr[m][t] for jr in jac_rows]), s in data.broadcast) for t, s in enumerate(slots)]
            for m in range(len(jac_rows[0]))
        ]

    def _shift_plan(self, tape, structure, base: np.ndarray, rows: list, tag=None) -> list:
        """Append shifted rows ``(gate angles, tag)`` for each trainable tape parameter.

        ``base`` holds the unshifted gate angles. A tape parameter may drive several gates (a controlled
        rotation compiles to two); its derivative sums theirs, each scaled by the gate's ``scale``. Returns,
        per trainable parameter, the ``(coefficient, row index)`` terms (none for a global phase, which no
        measured quantity depends on).
        """
        entries = []
        for slot in self._trainable_slots(tape, structure):
            terms = []
            for j, gate in structure.rotations_of.get(slot, []):
                for c, s in gate.generator.shift_rule():
                    shifted = base.copy()
                    shifted[j] += s
                    rows.append((shifted, tag))
                    terms.append((c * gate.scale, len(rows) - 1))
            entries.append(terms)
        return entries

    def _combine(self, tape, entries, values, meas=None, base_row=None) -> list:
        """Jacobian ``[measurement][trainable]`` from shifted results.

        A variance arrives as ``[<O>, <O^2>]`` per row: ``d var = d<O^2> - 2 <O> d<O>``.
        """
        n_meas = len(tape.measurements)
        jac = [[None] * len(entries) for _ in range(n_meas)]
        for t, terms in enumerate(entries):
            for m in range(n_meas):
                if not terms:
                    jac[m][t] = np.float64(0.0)
                    continue
                d = sum(c * np.asarray(values[r][m], dtype=float) for c, r in terms)
                if meas is not None and meas[m].kind == "var":
                    d = np.float64(d[1] - 2 * values[base_row][m][0] * d[0])
                jac[m][t] = d
        return jac

    def _param_shift_sampled(self, tapes) -> list:
        """Parameter shift with shots: the shifted circuits of all tapes sampled in batched runs."""
        if any(isinstance(m, qpm.VarianceMP) for t in tapes for m in t.measurements):
            raise ValueError(
                "gradients of variances are computed without shots only; differentiate expectation "
                "values, or drop shots"
            )
        plans, jobs = [], []
        for tape in tapes:
            key, data, build = analyse_tape(qp.tape.QuantumScript(tape.operations, []), self._wire_index)
            structure = self._cache.get(("sample",) + key, build)
            rows: list = []
            base = structure.gate_values(data.params)[0]
            entries = self._shift_plan(tape, structure, base, rows)
            plans.append(entries)
            if rows:
                jobs.append((tape, np.stack([r[0] for r in rows])))
        results = iter(self._sampled_results(jobs)) if jobs else iter(())
        jacs = []
        for tape, entries in zip(tapes, plans):
            if not any(entries):
                jacs.append([[np.float64(0.0)] * len(entries) for _ in tape.measurements])
                continue
            values = [[r] if len(tape.measurements) == 1 else list(r) for r in next(results)]
            jacs.append(self._combine(tape, entries, values))
        return jacs

    # ----------------------------------------------------------------------------------------- adjoint
    def _adjoint(self, tapes, cotangents) -> list:
        """Adjoint derivatives from Aer snapshots.

        With ``cotangents`` (one per tape) returns VJPs (see :meth:`_contract` for their layout). Without,
        returns jacobians ``[measurement][trainable]``.
        """
        out: list = [None] * len(tapes)
        for key, (structure, members) in self._group(tapes).items():
            # A VJP of a single tape sums every shared parameter's derivative over the rows, which Aer does
            # itself (an expectation value); only row-dependent rotations need saved states.
            summable = None
            if cotangents is not None and len(members) == 1:
                summable = members[0][1].broadcast
            n_saved = sum(
                1 for g in structure.gates if g.slot is not None and (summable is None or g.slot in summable)
            )
            row_bytes = (n_saved + 3) * 2**structure.n_wires * 16 * 2
            if row_bytes > self.adjoint_memory:
                for i, _ in members:
                    out[i] = self._adjoint_fallback(tapes[i], cotangents, i)
                continue
            params, row_datas, slices = self._flatten(members)
            qvals = structure.gate_values(params)
            n_meas = len(structure.meas)
            weights = None
            if cotangents is not None:
                # one weight per (row, measurement): a broadcast tape's cotangents have one value per sample
                weights = np.vstack([
                    np.broadcast_to(
                        np.stack([np.asarray(c, dtype=float).reshape(-1) for c in
                                  ([cotangents[i]] if n_meas == 1 else cotangents[i])], axis=-1),
                        (data.rows, n_meas),
                    )
                    for i, data in members
                ])
            grads = np.zeros((1 if weights is not None else n_meas, len(qvals), structure.n_params))
            for rows in self._chunks(structure, len(qvals), row_bytes, self.adjoint_memory):
                grads[:, rows] = self._adjoint_block(
                    key, structure, qvals[rows], row_datas[rows], None if weights is None else weights[rows], summable
                )
            for (i, data), rows in zip(members, slices):
                slots = self._trainable_slots(tapes[i], structure)
                g = grads[:, rows][:, :, slots]  # (vectors, rows of this tape, trainable)
                if weights is not None:
                    broadcast = [s in data.broadcast for s in slots]
                    vals = [g[0, :, t] if b else np.float64(g[0, :, t].sum()) for t, b in enumerate(broadcast)]
                    out[i] = _MixedVJP(vals) if any(broadcast) else np.array(vals, dtype=float)
                elif data.batch_size is None:
                    out[i] = [[np.float64(v) for v in g[m, 0]] for m in range(n_meas)]
                else:
                    out[i] = [
                        [_batched_entry(g[m, :, t], s in data.broadcast) for t, s in enumerate(slots)]
                        for m in range(n_meas)
                    ]
        return out

    def _adjoint_forward(self, key, structure, qvals: np.ndarray) -> np.ndarray:
        """Final states ``(rows, 2**n)``: kept by this call's forward pass, or run now."""
        psi = [self._forward_states.get((key, row.tobytes())) for row in qvals]
        missing = [r for r, state in enumerate(psi) if state is None]
        if missing:
            for r, state in zip(missing, self._joint_states(structure, qvals[missing])):
                psi[r] = state
        return np.stack(psi)

    def _adjoint_block(self, key, structure, qvals, row_datas, weights, summable) -> np.ndarray:
        """Gradients ``(vectors, rows, n_params)`` of one block of rows by the adjoint method.

        ``weights`` ``(rows, measurements)`` are the cotangents of a VJP (one back-propagated vector per
        row); without them every measurement gets its own vector (a jacobian). The reversed experiment
        carries each row's state and its back-propagated vector side by side (flag qubit); with
        ``summable`` (the broadcast parameters of the block's only tape) a rotation whose angle is shared
        by all rows and is not broadcast gets its derivative summed over rows by Aer itself, as the
        expectation value of ``Y_flag ⊗ G``; it is put in row 0.
        """
        n = structure.n_wires
        psi = self._adjoint_forward(key, structure, qvals)
        n_meas = len(structure.meas)
        # O_m |psi_r> for every measurement and row, with each row's own coefficients.
        applied = [self._observable_apply(structure, row_datas, m, psi) for m in range(n_meas)]
        if weights is not None:
            lams = [sum(weights[:, m, None] * applied[m] for m in range(n_meas))]
        else:
            lams = applied
        builder = JointCircuitBuilder(structure, qvals, pair=True)
        rotations = [i for i, g in enumerate(structure.gates) if g.slot is not None]
        summed = set()
        if summable is not None:
            summed = {i for i in rotations if structure.gates[i].slot not in summable and not builder.varies(i)}
        circuits, scales = [], []
        for lam in lams:
            joint = builder.join_pair(psi, lam)
            norm = float(np.linalg.norm(joint))
            scales.append(norm)
            if np.any(lam):
                circuits.append(builder.reverse_pair(joint / norm, summed))
        rows = len(qvals)
        runs = iter(self._run(circuits, None, None, rows=rows * len(circuits)) if circuits else [])
        grads = np.zeros((len(lams), rows, structure.n_params))
        for v, (lam, norm) in enumerate(zip(lams, scales)):
            if not np.any(lam):
                continue
            rev = next(runs)
            for i in rotations:
                gate = structure.gates[i]
                if i in summed:
                    # <Y_flag ⊗ G> = -2 sum_r Im <lambda_r|G|psi_r> / norm^2, and each derivative is 2 Im <..>
                    grads[v, 0, gate.slot] += gate.scale * -(norm**2) * float(np.real(rev[f"g{i}"]))
                else:
                    psi_i, lam_i = builder.split_pair(rev[f"a{i}"])
                    overlap = np.einsum("bi,bi->b", lam_i.conj(), gate.generator.apply(psi_i, n))
                    grads[v, :, gate.slot] += gate.scale * 2 * norm**2 * np.imag(overlap)
        return grads

    def _adjoint_fallback(self, tape, cotangents, i):
        self.last_gradient_method = "parameter-shift"
        jac = self._param_shift([tape])[0]
        return jac if cotangents is None else self._contract(tape, jac, cotangents[i])

    @staticmethod
    def _observable_apply(structure, datas: list[TapeData], m: int, psi: np.ndarray) -> np.ndarray:
        """``O_m |psi_r>`` for measurement ``m`` and every row ``r`` (``psi``: ``(rows, 2**n)``)."""
        n = structure.n_wires
        tensor = psi.reshape((len(psi),) + (2,) * n)
        coeffs = np.array([np.asarray(d.coeffs[m]) for d in datas])  # (rows, n_words)
        out = np.zeros_like(psi)
        for w, word in enumerate(structure.meas[m].words):
            out += coeffs[:, w, None] * apply_pauli_word(tensor, word).reshape(len(psi), -1)
        return out
