"""Compiling PennyLane tapes into parameterised Qiskit circuits, once per circuit structure.

A tape's *structure* is its sequence of gate names and wires plus what it measures; its *values* are the
gate angles (and observable coefficients). Every numeric gate parameter becomes an element of one
``ParameterVector``, so tapes that differ only in their values (a batch of inputs, parameter-shifted copies,
optimiser steps) share one compiled circuit and run together in one Aer call with ``parameter_binds``.

Only gates Aer simulates natively are emitted, so no ``transpile`` call is ever needed (measured: 75 % of the
stock plugin's time is spent transpiling). Everything else is decomposed by PennyLane before it gets here.

Wire ``i`` of the device is Qiskit qubit ``n - 1 - i``: Qiskit indexes basis states little-endian, PennyLane
big-endian, and with this map the two indexings coincide, so statevectors and probabilities need no
reordering.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pennylane as qp
from pennylane import measurements as qpm
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from .general import is_general
from .paulis import Generator, observable_terms, pauli_of

# PennyLane gate name -> Qiskit gate name, for gates without parameters.
_FIXED_GATES = {
    "Hadamard": "h",
    "PauliX": "x",
    "PauliY": "y",
    "PauliZ": "z",
    "S": "s",
    "T": "t",
    "SX": "sx",
    "CNOT": "cx",
    "CZ": "cz",
    "CY": "cy",
    "SWAP": "swap",
    "Toffoli": "ccx",
    "CSWAP": "cswap",
}


def _word(wires, letters):
    return tuple(zip(wires, letters, strict=True))


def _rot(qname: str, letter: str, wire: int, slot: int, scale: float) -> Gate:
    gen = Generator((), ((wire, letter),), 0.5) if letter != "P" else Generator((wire,), (), -1.0)
    return Gate(qname, (wire,), slot, scale, gen)


# PennyLane rotation name -> function of (wire indices, tape slot) giving its native gates.
# Controlled rotations are emitted as single-qubit rotations and CNOTs: under ``parameter_binds`` Aer runs
# parameterised crx/cry/crz/cp at angle 0 (checked against qiskit's Statevector on qiskit-aer 0.16.0,
# 0.17.2 and 0.18.2, |d psi| up to 0.57). A qiskit ControlledGate keeps its parameters on ``base_gate``, so
# its ``is_parameterized()`` is False and Aer's assembler never records binds for it. The decomposed form
# also needs only the two-term shift rule.
_ROTATIONS = {
    "RX": lambda w, k: [_rot("rx", "X", w[0], k, 1.0)],
    "RY": lambda w, k: [_rot("ry", "Y", w[0], k, 1.0)],
    "RZ": lambda w, k: [_rot("rz", "Z", w[0], k, 1.0)],
    "PhaseShift": lambda w, k: [_rot("p", "P", w[0], k, 1.0)],
    "IsingXX": lambda w, k: [Gate("rxx", w, k, 1.0, Generator((), _word(w, "XX"), 0.5))],
    "IsingYY": lambda w, k: [Gate("ryy", w, k, 1.0, Generator((), _word(w, "YY"), 0.5))],
    "IsingZZ": lambda w, k: [Gate("rzz", w, k, 1.0, Generator((), _word(w, "ZZ"), 0.5))],
    "CRZ": lambda w, k: [
        _rot("rz", "Z", w[1], k, 0.5),
        Gate("cx", w),
        _rot("rz", "Z", w[1], k, -0.5),
        Gate("cx", w),
    ],
    "CRY": lambda w, k: [
        _rot("ry", "Y", w[1], k, 0.5),
        Gate("cx", w),
        _rot("ry", "Y", w[1], k, -0.5),
        Gate("cx", w),
    ],
    "CRX": lambda w, k: [
        Gate("rz", (w[1],), angle=np.pi / 2),
        _rot("ry", "Y", w[1], k, 0.5),
        Gate("cx", w),
        _rot("ry", "Y", w[1], k, -0.5),
        Gate("cx", w),
        Gate("rz", (w[1],), angle=-np.pi / 2),
    ],
    "ControlledPhaseShift": lambda w, k: [
        _rot("p", "P", w[0], k, 0.5),
        Gate("cx", w),
        _rot("p", "P", w[1], k, -0.5),
        Gate("cx", w),
        _rot("p", "P", w[1], k, 0.5),
    ],
}

#: Names of the PennyLane operations the Aer device executes without decomposing them.
NATIVE_OPS = frozenset(_FIXED_GATES) | frozenset(_ROTATIONS) | {"Rot", "Identity", "GlobalPhase"}


@dataclass(frozen=True)
class Gate:
    """One native gate of a compiled circuit.

    A rotation's angle is ``scale * tape_params[slot]``; a fixed rotation has a constant ``angle``.
    """

    name: str
    wires: tuple[int, ...]
    slot: int | None = None  # index into the tape's flat parameter list
    scale: float = 1.0
    generator: Generator | None = None
    angle: float | None = None
    # a PennyLane channel's Kraus matrices (big-endian), compiled to Aer's kraus instruction
    kraus: tuple | None = field(default=None, compare=False)


@dataclass(frozen=True)
class MeasSpec:
    """What one measurement needs from a run: Pauli words (expval/var), wires (probs) or the state."""

    kind: str  # "expval" | "var" | "probs" | "state" | "general" (read from the state, see general.py)
    words: tuple[tuple[tuple[int, str], ...], ...] = ()
    sq_words: tuple[tuple[tuple[int, str], ...], ...] = ()  # words of O^2, for var
    wires: tuple[int, ...] = ()


@dataclass
class Structure:
    """A compiled circuit structure: its gates, measurements and (lazily) Qiskit circuits per use.

    The Qiskit circuits have one parameter per rotation gate (``n_gate_params``); a tape's parameters map to
    them through ``slots`` and ``scales`` (see :meth:`gate_values`).
    """

    n_wires: int
    gates: tuple[Gate, ...]
    n_params: int  # parameters of the tape
    meas: tuple[MeasSpec, ...]
    global_phase_params: tuple[int, ...]
    words: tuple[tuple[tuple[int, str], ...], ...]  # every distinct Pauli word measured, in label order
    params: ParameterVector = field(init=False)
    circuits: dict = field(default_factory=dict)
    channel_slots: frozenset = frozenset()  # tape parameters that are a channel's (not differentiable)

    def __post_init__(self):
        rotations = [g for g in self.gates if g.slot is not None]
        self.slots = np.array([g.slot for g in rotations], dtype=int)
        self.scales = np.array([g.scale for g in rotations], dtype=float)
        self.n_gate_params = len(rotations)
        self.params = ParameterVector("t", self.n_gate_params)
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self._param_of = {}
        #: tape parameter -> [(index into params, gate)] of the rotations it drives (a controlled rotation
        #: compiles to two), for the parameter-shift rule.
        self.rotations_of: dict[int, list[tuple[int, Gate]]] = {}
        k = 0
        for i, g in enumerate(self.gates):
            if g.slot is not None:
                self._param_of[i] = k
                self.rotations_of.setdefault(g.slot, []).append((k, g))
                k += 1

    def gate_values(self, tape_params: np.ndarray) -> np.ndarray:
        """Angles of the rotation gates, ``(rows, n_gate_params)``, from tape parameters ``(rows, n_params)``."""
        return tape_params[:, self.slots] * self.scales

    def param_index(self, gate_index: int) -> int:
        """Index into :attr:`params` of the rotation at ``gates[gate_index]``."""
        return self._param_of[gate_index]

    def qubit(self, wire: int) -> int:
        return self.n_wires - 1 - wire

    def gate_op(self, index: int, inverse: bool = False) -> tuple[str, list[int], list]:
        """Gate ``index``, or its inverse, as ``(qiskit name, qubits, angles)``: its parameter (a Qiskit
        ``Parameter``) or its constant angle, none for a fixed gate."""
        gate = self.gates[index]
        qubits = [self.qubit(w) for w in gate.wires]
        if gate.slot is not None:
            angle = self.params[self._param_of[index]]
        elif gate.angle is not None:
            angle = gate.angle
        else:
            # Every fixed gate is self-inverse except s, t and sx, whose inverses are sdg, tdg and sxdg.
            name = gate.name + "dg" if inverse and gate.name in ("s", "t", "sx") else gate.name
            return name, qubits, []
        return gate.name, qubits, [-angle if inverse else angle]

    def append_gate(self, qc: QuantumCircuit, index: int, inverse: bool = False) -> None:
        """Append gate ``index`` (its parameter, or its constant angle) to ``qc``, or its inverse. A channel is
        Aer's ``kraus`` instruction, its qubits in reverse so that Qiskit's little-endian matrix index is
        PennyLane's big-endian one; it has no inverse (the adjoint pass does not run with channels)."""
        gate = self.gates[index]
        if gate.kraus is not None:
            from qiskit.quantum_info import Kraus

            qc.append(Kraus(list(gate.kraus)), [self.qubit(w) for w in reversed(gate.wires)])
            return
        name, qubits, angles = self.gate_op(index, inverse)
        getattr(qc, name)(*angles, *qubits)

    def append_gates(self, qc: QuantumCircuit) -> None:
        """Append every gate of the structure to ``qc``, in order."""
        for i in range(len(self.gates)):
            self.append_gate(qc, i)

    def exact_circuit(self, method: str) -> QuantumCircuit:
        """The circuit with a save instruction for each measured quantity (analytic results)."""
        key = ("exact", method)
        if key not in self.circuits:
            qc = QuantumCircuit(self.n_wires)
            self.append_gates(qc)
            all_q = list(range(self.n_wires))
            for i, word in enumerate(self.words):
                if word:
                    qc.save_expectation_value(pauli_of(word, self.n_wires), all_q, label=f"e{i}")
            for j, m in enumerate(self.meas):
                if m.kind == "probs":
                    qc.save_probabilities([self.qubit(w) for w in reversed(m.wires)], label=f"p{j}")
                elif m.kind in ("state", "general"):
                    if method == "density_matrix":
                        qc.save_density_matrix(label=f"s{j}")
                    else:
                        qc.save_statevector(label=f"s{j}")
            self.circuits[key] = qc
        return self.circuits[key]

    def probs_circuit(self) -> QuantumCircuit:
        """The circuit saving the probabilities of every basis state (``p``; index bit q is qubit q, which
        is PennyLane's index since qubit ``n - 1 - w`` holds wire ``w``)."""
        if "probs" not in self.circuits:
            qc = QuantumCircuit(self.n_wires)
            self.append_gates(qc)
            qc.save_probabilities(list(range(self.n_wires)), label="p")
            self.circuits["probs"] = qc
        return self.circuits["probs"]

    def sampling_circuit(self) -> QuantumCircuit:
        """The circuit with every qubit measured (shots)."""
        if "sample" not in self.circuits:
            qc = QuantumCircuit(self.n_wires)
            self.append_gates(qc)
            qc.measure_all()
            self.circuits["sample"] = qc
        return self.circuits["sample"]


class StructureCache:
    """An LRU cache of compiled structures, keyed by gate names/wires and measured words."""

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key, build):
        if key in self._data:
            self.hits += 1
            self._data.move_to_end(key)
            return self._data[key]
        self.misses += 1
        value = build()
        self._data[key] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class TapeData:
    """The values of one tape: gate parameters and, per measurement, the coefficients of its words.

    A broadcast tape (``batch_size`` B) has B rows of parameters; ``broadcast`` names the parameters that
    vary across them (the others repeat).
    """

    key: tuple
    params: np.ndarray  # (rows, n_params): rows = batch size, or 1
    coeffs: list  # per measurement: coefficient arrays (expval: (n_words,); var: (n_words,), (n_sq,)),
    # or, for a general measurement, the measurement process on device-index wires
    batch_size: int | None = None
    broadcast: frozenset = frozenset()

    @property
    def rows(self) -> int:
        return self.params.shape[0]


def _to_value(value):
    """A parameter as a float, or a 1-d float array for a broadcast parameter."""
    if getattr(value, "ndim", 0):
        return np.real(np.asarray(qp.math.unwrap(value))).astype(float)
    # float() reads Python/NumPy scalars and 0-d torch tensors directly (about 1 us); PennyLane's generic
    # unwrapping costs about 30 us a parameter, which added up to a quarter of a batched gradient.
    try:
        return float(value)
    except TypeError:
        return float(qp.math.real(qp.math.unwrap(value)))


def _channel_key(op) -> tuple:
    if any(
        getattr(d, "ndim", 0) and np.ndim(qp.math.unwrap(d)) > (2 if op.name == "QubitChannel" else 0)
        for d in op.data
    ):
        raise ValueError(
            f"{op.name} with a batch of values: a channel's values must be the same for every circuit"
        )
    return tuple(np.round(np.asarray(op.kraus_matrices(), dtype=np.complex128).ravel(), 14).tolist())


def analyse_tape(tape, wire_index: dict) -> tuple[tuple, TapeData, callable]:
    """Split a tape into its structure key, its values and a builder for its :class:`Structure`."""
    n_wires = len(wire_index)
    gate_key = []
    params: list[float] = []
    for op in tape.operations:
        wires = tuple(wire_index[w] for w in op.wires)
        if isinstance(op, qp.operation.Channel):
            # fixed values, compiled into the circuit: they key its structure, and hold their slots with zeros
            gate_key.append((op.name, wires, _channel_key(op)))
            params.extend([0.0] * op.num_params)
            continue
        gate_key.append((op.name, wires))
        for d in op.data:
            params.append(_to_value(d))
    meas_key = []
    coeffs = []
    for mp in tape.measurements:
        if is_general(mp):
            meas_key.append(("general",))
            coeffs.append(mp.map_wires(wire_index))  # wires as device indices, as the state is laid out
        elif isinstance(mp, qpm.ExpectationMP | qpm.VarianceMP):
            words, c = observable_terms(mp.obs, wire_index)
            kind = "expval" if isinstance(mp, qpm.ExpectationMP) else "var"
            if kind == "var":
                sq_words, c2 = observable_terms(mp.obs, wire_index, squared=True)
                meas_key.append((kind, tuple(words), tuple(sq_words)))
                coeffs.append((c, c2))
            else:
                meas_key.append((kind, tuple(words)))
                coeffs.append(c)
        elif isinstance(mp, qpm.ProbabilityMP) and mp.obs is None:
            wires = tuple(wire_index[w] for w in mp.wires) if len(mp.wires) else tuple(range(n_wires))
            meas_key.append(("probs", wires))
            coeffs.append(None)
        elif type(mp) is qpm.StateMP:
            meas_key.append(("state",))
            coeffs.append(None)
        else:
            raise ValueError(f"measurement {mp} is not supported by the Aer device without shots")
    key = (n_wires, tuple(gate_key), tuple(meas_key))

    def build() -> Structure:
        return _build_structure(tape, wire_index, key)

    # The batch size from the parameters themselves: only broadcast ones are arrays (native gates take
    # scalars). PennyLane's tape.batch_size checks every operation's batching again (about 0.5 ms of a
    # 4-qubit training step's 1 ms analysis, on the fresh copies of the tapes it hands over); it is asked
    # only for the error it raises when the sizes disagree.
    sizes = {len(v) for v in params if isinstance(v, np.ndarray)}
    batch = sizes.pop() if len(sizes) == 1 else (tape.batch_size if sizes else None)
    matrix = np.empty((batch or 1, len(params)))
    broadcast = []
    for j, v in enumerate(params):
        matrix[:, j] = v
        if isinstance(v, np.ndarray):
            broadcast.append(j)
    return key, TapeData(key, matrix, coeffs, batch, frozenset(broadcast)), build


def native_gates(name: str, wires: tuple[int, ...], slot: int = 0) -> list[Gate]:
    """The gates Aer runs for PennyLane operation ``name`` on device ``wires``, whose parameters are tape
    slots ``slot, slot + 1, ...`` (none for ``Identity`` and ``GlobalPhase``, which change no state).

    Raises:
        ValueError: ``name`` is not in :data:`NATIVE_OPS` (PennyLane decomposes it first).
    """
    if name in _FIXED_GATES:
        return [Gate(_FIXED_GATES[name], wires)]
    if name in _ROTATIONS:
        return _ROTATIONS[name](wires, slot)
    if name == "Rot":
        # Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)
        return [
            _rot("rz", "Z", wires[0], slot, 1.0),
            _rot("ry", "Y", wires[0], slot + 1, 1.0),
            _rot("rz", "Z", wires[0], slot + 2, 1.0),
        ]
    if name in ("GlobalPhase", "Identity"):
        return []
    raise ValueError(f"operation {name} is not native to the Aer device (it should be decomposed)")


def _build_structure(tape, wire_index, key) -> Structure:
    n_wires = key[0]
    gates: list[Gate] = []
    phase_params: list[int] = []
    slot = 0
    channel_slots = []
    for op in tape.operations:
        wires = tuple(wire_index[w] for w in op.wires)
        if isinstance(op, qp.operation.Channel):
            kraus = tuple(np.asarray(k, dtype=np.complex128) for k in op.kraus_matrices())
            gates.append(Gate("kraus", wires, kraus=kraus))
            channel_slots.extend(range(slot, slot + op.num_params))
        else:
            if op.name == "GlobalPhase":
                phase_params.append(slot)
            gates.extend(native_gates(op.name, wires, slot))
        slot += op.num_params
    meas: list[MeasSpec] = []
    words: list = []
    seen: dict = {}

    def register(ws):
        for w in ws:
            if w not in seen:
                seen[w] = len(words)
                words.append(w)

    for mk in key[2]:
        if mk[0] == "expval":
            register(mk[1])
            meas.append(MeasSpec("expval", words=mk[1]))
        elif mk[0] == "var":
            register(mk[1])
            register(mk[2])
            meas.append(MeasSpec("var", words=mk[1], sq_words=mk[2]))
        elif mk[0] == "probs":
            meas.append(MeasSpec("probs", wires=mk[1]))
        else:
            meas.append(MeasSpec(mk[0]))
    return Structure(
        n_wires,
        tuple(gates),
        slot,
        tuple(meas),
        tuple(phase_params),
        tuple(words),
        channel_slots=frozenset(channel_slots),
    )
