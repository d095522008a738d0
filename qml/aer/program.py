"""Circuits as Aer's C++ core takes them, without a Qiskit circuit in between.

``AerSimulator.run`` converts a Qiskit ``QuantumCircuit`` into Aer's own circuit type in Python, one
instruction at a time, and reads every standard gate back out of Qiskit's circuit data as a new Python
object several times on the way (measured on qiskit-aer 0.18.2: about 45 us a gate, so 3.0 ms for a
60-gate, 9-qubit circuit whose simulation took 0.3 ms). The joint experiments of :mod:`.joint` are built
anew for every batch (their multiplexed rotations carry the batch's angles), so a small training step paid
that conversion, plus as much again to build the Qiskit circuit, on every call.

An :class:`AerProgram` records the same operations as plain tuples and hands them to Aer's ``AerCircuit``
directly (:func:`execute`, about 1 us a gate): the 9-qubit example runs in 0.9 ms instead of 3.0 ms. This
goes through qiskit-aer's compiler module (``AerCircuit``, ``generate_aer_config`` and the simulator's
``_execute_circuits``), which is not public API: the names are checked on import, and if they are missing
or refuse a call the runner uses :meth:`AerProgram.to_qiskit` and ``AerSimulator.run`` instead, with the
same results (tests run both).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Instruction
from qiskit.circuit.library import DiagonalGate

try:  # qiskit-aer 0.16 to 0.18 have these; without them every program runs through AerSimulator.run
    from qiskit_aer.backends.aer_compiler import generate_aer_config
    from qiskit_aer.backends.controller_wrappers import AerCircuit
except ImportError:  # pragma: no cover - depends on the installed qiskit-aer
    AerCircuit = generate_aer_config = None

__all__ = ["AerProgram", "direct_available", "execute"]


def direct_available(simulator) -> bool:
    """Whether :func:`execute` can hand programs to ``simulator``'s core directly."""
    return AerCircuit is not None and hasattr(simulator, "_execute_circuits")


class AerProgram:
    """A circuit on ``num_qubits`` qubits as a list of operations: gates, diagonals, a state to start
    from, and saved results (``save_statevector``, ``save_probabilities``).

    Qubit indices and gate names are Qiskit's (qubit 0 is the lowest bit of a basis index), so a program
    gives the same results through :func:`execute` as through :meth:`to_qiskit` and ``AerSimulator.run``.
    """

    def __init__(self, num_qubits: int):
        self.num_qubits = num_qubits
        self.ops: list[tuple] = []

    def gate(self, name: str, qubits, params=()) -> None:
        """A standard gate by its Qiskit name (``"h"``, ``"rz"``, ``"u"``, ...) with its angles."""
        self.ops.append(("gate", name, list(qubits), [float(p) for p in params]))

    def diagonal(self, qubits, phases: np.ndarray) -> None:
        """The diagonal unitary ``phases`` over ``qubits`` (the first listed is the lowest index bit)."""
        self.ops.append(("diagonal", list(qubits), phases))

    def set_statevector(self, state: np.ndarray) -> None:
        """Start from the normalised ``state`` of all qubits (Aer replaces its state with it)."""
        self.ops.append(("set_statevector", list(range(self.num_qubits)), state))

    def save_statevector(self, label: str) -> None:
        self.ops.append(("save", "save_statevector", list(range(self.num_qubits)), label))

    def save_probabilities(self, qubits, label: str) -> None:
        """The probabilities of ``qubits`` (the first listed is the lowest bit of the saved index)."""
        self.ops.append(("save", "save_probabilities", list(qubits), label))

    def to_aer(self, circ_id: int):
        """This program as Aer's ``AerCircuit``."""
        circuit = AerCircuit()
        circuit.num_qubits = self.num_qubits
        circuit.num_memory = 0
        circuit.global_phase_angle = 0.0
        circuit.shots = 1
        circuit.circ_id = circ_id
        for op in self.ops:
            kind = op[0]
            if kind == "gate":
                circuit.gate(op[1], op[2], op[3], [], -1, None, op[1])
            elif kind == "diagonal":
                circuit.diagonal(op[1], op[2].tolist(), -1, "diagonal")
            elif kind == "set_statevector":
                circuit.set_statevector(op[1], [op[2]])
            else:  # save: an average over shots of a single shot ("single" for a state)
                subtype = "single" if op[1] == "save_statevector" else "average"
                circuit.save_state(op[2], op[1], subtype, op[3])
        return circuit

    def to_qiskit(self) -> QuantumCircuit:
        """The same circuit as a Qiskit ``QuantumCircuit`` (for ``AerSimulator.run``)."""
        qc = QuantumCircuit(self.num_qubits)
        for op in self.ops:
            kind = op[0]
            if kind == "gate":
                getattr(qc, op[1])(*op[3], *op[2])
            elif kind == "diagonal":
                qc.append(DiagonalGate(list(op[2])), op[1])
            elif kind == "set_statevector":
                # Aer's own set_statevector checks the norm in Python first (26 ms of a 95 ms load at 20
                # qubits, measured); the state is normalised, and Aer dispatches on the instruction's name.
                qc.append(Instruction("set_statevector", self.num_qubits, 0, [op[2]]), qc.qubits)
            elif op[1] == "save_statevector":
                qc.save_statevector(label=op[3])
            else:
                qc.save_probabilities(op[2], label=op[3])
        return qc


def execute(simulator, programs: list[AerProgram], options: dict | None = None) -> list[dict] | None:
    """Run ``programs`` as one Aer job on ``simulator`` (its options, updated by ``options``, without
    noise): one dict of saved results per program, by label. ``None``, with a warning, when this qiskit-aer refuses the direct call: run
    :meth:`AerProgram.to_qiskit` circuits through ``AerSimulator.run`` instead."""
    try:
        circuits = [p.to_aer(i) for i, p in enumerate(programs)]
        shape = SimpleNamespace(num_qubits=max(p.num_qubits for p in programs), num_clbits=0)
        config = generate_aer_config([shape], simulator.options, shots=1, **(options or {}))
        output = simulator._execute_circuits(circuits, None, config)
    except (AttributeError, TypeError) as exc:  # an Aer whose private compiler API changed
        warnings.warn(
            f"qhybrid: running Aer circuits through AerSimulator.run from now on (direct call failed: {exc})",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    if not isinstance(output, dict) or not output.get("success", False):
        status = output.get("status") if isinstance(output, dict) else output
        raise RuntimeError(f"Aer failed: {status}")
    results = sorted(output["results"], key=lambda r: r["circ_id"])
    for r in results:
        if not r.get("success", False):
            raise RuntimeError(f"Aer failed: {r.get('status')}")
    return [r["data"] for r in results]
