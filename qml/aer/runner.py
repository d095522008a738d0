"""The object every Aer execution path shares: the simulator, its sampling RNG, the structure cache, counters.

:class:`AerRunner` submits jobs to one ``AerSimulator`` and counts what ran. The execution modules (exact
values, sampling, parameter shift, adjoint) are plain functions of a runner and the tapes, so each can be
read and tested alone; :class:`~qhybrid.qml.aer.device.AerDevice` only decides which of them to call.
"""

from __future__ import annotations

import time

import numpy as np
from qiskit_aer import AerError, AerSimulator

from . import program
from .compile import StructureCache, TapeData, analyse_tape
from .memory import MemoryBudget

#: Aer simulation methods the device can drive.
AER_METHODS = ("statevector", "density_matrix", "matrix_product_state")

# Aer slows down when one job carries very many parameter sets (measured: 102 -> 342 us per experiment at
# 4 qubits); jobs are split into chunks of at most this many sets.
MAX_BINDS_PER_JOB = 1024
# Joint (batch-as-register) runs: at most this many qubits in one experiment.
MAX_JOINT_QUBITS = 28


def check_aer_device(device) -> None:
    """Refuse an Aer ``device`` option (``"CPU"``, ``"GPU"``) this qiskit-aer build cannot run: Aer itself
    accepts it when the simulator is made and fails only in the first job."""
    available = AerSimulator().available_devices()
    if isinstance(device, str) and device in available:
        return
    hint = ""
    if isinstance(device, str) and device.upper() == "GPU":
        hint = (
            "; Aer simulates on a GPU with its CUDA build, qiskit-aer-gpu, on a machine with an NVIDIA GPU: "
            "pip uninstall qiskit-aer, then pip install 'qhybrid[gpu]'"
        )
    raise ValueError(f"Aer device {device!r} is not available here; allowed: {', '.join(available)}{hint}")


class AerRunner:
    """One Aer simulator with what runs on it: the compiled-structure cache, the RNG of its seeds, counters.

    Args:
        wires: the device's wire labels, in order.
        method: an Aer method from :data:`AER_METHODS`.
        shots: default samples per circuit (``None``: exact).
        seed: seeds the generator that draws each job's ``seed_simulator``.
        noise_model: a ``qiskit_aer.noise.NoiseModel`` or ``None``.
        memory: the budget the paths that hold many states (adjoint, joint runs) plan against.
        on_run: called with the number of circuit executions after every job (the device's tracker).
        options: further ``AerSimulator`` options.
    """

    def __init__(self, wires, method, shots, seed, noise_model, memory: MemoryBudget, on_run, options: dict):
        if method not in AER_METHODS:
            raise ValueError(f"unknown Aer method {method!r}; allowed: {', '.join(AER_METHODS)}")
        self.method = method
        self.default_shots = shots
        self.noise_model = noise_model
        self.memory = memory
        self.rng = np.random.default_rng(seed)
        self._on_run = on_run
        check_aer_device(options.get("device", "CPU"))
        # max_parallel_experiments=0 lets Aer spread the many small experiments of a batch (parameter sets)
        # over the cores.
        opts = {"method": method, "precision": "double", "max_parallel_experiments": 0, **options}
        if noise_model is not None:
            opts["noise_model"] = noise_model
        try:
            self.simulator = AerSimulator(**opts)
        except AerError as exc:
            raise ValueError(
                f"bad AerSimulator option: {exc}; see qiskit_aer.AerSimulator's options"
            ) from None
        #: The ``AerSimulator`` options the device was given (they win over per-job choices).
        self.options = dict(options)
        self.wire_index = {w: i for i, w in enumerate(wires)}
        self.cache = StructureCache()
        #: Circuit executions: parameter sets run, each row of a joint run counted.
        self.circuit_executions = 0
        #: Calls into Aer, and the seconds spent inside them.
        self.aer_calls = 0
        self.aer_seconds = 0.0
        #: Exact statevector runs without noise simulate a whole batch as one joint circuit (see joint.py).
        self.joint = method == "statevector" and noise_model is None
        #: Forward states of the latest execute call, by (structure key, gate angles) (see adjoint.py).
        self.forward_states: dict = {}
        #: Analysed tapes of the latest execute call, by id (the tape is kept, so its id stays its own).
        self.analysed: dict = {}
        #: A :class:`~qhybrid.qml.device_noise.BackendCompiler` when the noise is a device's.
        self.compiler = None
        #: Whether :meth:`run_programs` hands programs to Aer's core directly (:mod:`.program`).
        self.direct = program.direct_available(self.simulator)

    def shots_of(self, tape) -> int | None:
        """The samples a tape asks for, or the device's default."""
        if tape.shots:
            return tape.shots.total_shots
        return self.default_shots

    def run(self, circuits, binds=None, shots: int | None = None, rows=None, options=None) -> list:
        """One Aer job. Returns one data dict per (circuit, parameter set), circuit-major.

        ``rows``: how many circuit executions the job stands for (a joint circuit simulates many rows).
        With ``shots``, each entry holds the ``counts``. ``options``: Aer options for this job only.
        """
        if self.method != "matrix_product_state":
            width = max(c.num_qubits for c in circuits)
            self.memory.require(
                width, self.method == "density_matrix", f"an Aer job of {len(circuits)} circuit(s)"
            )
        if self.compiler is not None:  # Aer simulates only the physical qubits the compiled circuit uses
            circuits = [self.compiler.compile(c) for c in circuits]
            if binds is not None:  # compiled gates name the same parameters, in expressions
                binds = [
                    {p: values for p, values in b.items() if p in c.parameters}
                    for b, c in zip(binds, circuits, strict=True)
                ]
        kwargs = {"shots": shots or 1, **(options or {})}
        if binds is not None:
            kwargs["parameter_binds"] = binds
            kwargs["runtime_parameter_bind_enable"] = True
        if shots:
            kwargs["seed_simulator"] = int(self.rng.integers(2**31 - 1))
        start = time.perf_counter()
        result = self.simulator.run(circuits, **kwargs).result()
        self.aer_seconds += time.perf_counter() - start
        if not result.success:
            raise RuntimeError(f"Aer failed: {result.status}")
        self.aer_calls += 1
        n = len(result.results)
        executed = n if rows is None else rows
        self.circuit_executions += executed
        self._on_run(executed)
        if shots:
            return [{"counts": result.results[i].data.counts} for i in range(n)]
        if self.compiler is not None:
            per_circuit = [
                1 if b is None else len(next(iter(b.values()), [0])) for b in binds or [None] * len(circuits)
            ]
            owners = [c for c, k in zip(circuits, per_circuit, strict=True) for _ in range(k)]
            return [self.compiler.finish(owners[i], result.data(i)) for i in range(n)]
        return [result.data(i) for i in range(n)]

    def run_programs(self, programs: list, rows: int, fuse: bool = True) -> list[dict]:
        """One exact Aer job of :class:`~.program.AerProgram` s (no noise, no parameters), handed to Aer's
        core directly where this qiskit-aer allows it; one dict of saved results per program.

        ``rows``: how many circuit executions the job stands for (a joint circuit simulates many rows).
        ``fuse=False`` turns Aer's gate fusion off for this job, unless the device's options set it.
        """
        options = {} if fuse or "fusion_enable" in self.options else {"fusion_enable": False}
        if self.compiler is not None or self.noise_model is not None or not self.direct:
            return self.run([p.to_qiskit() for p in programs], rows=rows, options=options)
        if self.method != "matrix_product_state":
            width = max(p.num_qubits for p in programs)
            self.memory.require(
                width, self.method == "density_matrix", f"an Aer job of {len(programs)} circuit(s)"
            )
        start = time.perf_counter()
        data = program.execute(self.simulator, programs, options)
        if data is None:  # this qiskit-aer refused the direct call: not again on this runner
            self.direct = False
            return self.run([p.to_qiskit() for p in programs], rows=rows, options=options)
        self.aer_seconds += time.perf_counter() - start
        self.aer_calls += 1
        self.circuit_executions += rows
        self._on_run(rows)
        return data

    def run_rows(self, circuit, structure, qvals: np.ndarray, shots=None) -> list[dict]:
        """Run one circuit for every row of gate angles ``qvals`` (``(rows, n_gate_params)``), in chunks."""
        rows = qvals.shape[0]
        if structure.n_gate_params == 0:
            return self.run([circuit] * rows, None, shots)
        out: list[dict] = []
        vec = structure.params
        for start in range(0, rows, MAX_BINDS_PER_JOB):
            block = qvals[start : start + MAX_BINDS_PER_JOB]
            binds = [{vec[j]: block[:, j].tolist() for j in range(structure.n_gate_params)}]
            out.extend(self.run([circuit], binds, shots))
        return out

    def group(self, tapes, prefix: tuple = ()) -> dict:
        """Group tapes by structure: ``{key: (structure, [(position, TapeData), ...])}``.

        ``prefix`` keeps structures compiled for different uses apart in the cache.
        """
        groups: dict = {}
        for pos, tape in enumerate(tapes):
            key, data, build = self.analyse(tape)
            key = prefix + key
            if key not in groups:
                groups[key] = (self.cache.get(key, build), [])
            groups[key][1].append((pos, data))
        return groups

    def analyse(self, tape) -> tuple:
        """:func:`.compile.analyse_tape` of a tape, remembered for the tapes of the latest execute call: a
        training step hands the same tapes to the forward pass and then to the gradient."""
        entry = self.analysed.get(id(tape))
        if entry is None or entry[0] is not tape:
            entry = (tape, analyse_tape(tape, self.wire_index))
            self.analysed[id(tape)] = entry
        return entry[1]

    def new_call(self) -> None:
        """Forget what the previous execute call kept (its forward states and analysed tapes)."""
        self.forward_states = {}
        self.analysed = {}

    @staticmethod
    def chunks(structure, n_rows: int, bytes_per_row: int, budget: int) -> list[slice]:
        """Slices of rows whose joint simulation fits in ``budget`` bytes (powers of two: no padding waste)."""
        fit = max(1, budget // max(bytes_per_row, 1))
        fit = min(fit, 2 ** max(0, MAX_JOINT_QUBITS - structure.n_wires))
        size = 1 << (fit.bit_length() - 1)
        return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def flatten(members) -> tuple[np.ndarray, list[TapeData], list[slice]]:
    """The rows of a group: parameter matrix, one :class:`TapeData` per row, each member's row slice."""
    row_datas, slices, start = [], [], 0
    for _, data in members:
        if data.rows == 1:
            row_datas.append(data)
        else:
            row_datas.extend(
                TapeData(data.key, data.params[r : r + 1], data.coeffs) for r in range(data.rows)
            )
        slices.append(slice(start, start + data.rows))
        start += data.rows
    return np.vstack([d.params for _, d in members]), row_datas, slices
