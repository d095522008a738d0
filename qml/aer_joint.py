"""Many statevectors in one Aer experiment: the batch as an index register.

Aer runs one parameter set of a circuit in microseconds at small widths, but every *distinct* circuit costs
about a millisecond of assembly in ``AerSimulator.run`` (measured: 32 reversed adjoint circuits, 4 qubits,
35-40 ms against 4 ms for 32 parameter sets of one circuit). The adjoint's reverse pass starts each sample
from its own state, so it cannot share one circuit through ``parameter_binds``.

This module simulates ``R`` rows of one circuit structure as a single circuit on ``n + k`` qubits,
``2**k >= R``: the high ``k`` qubits index the rows, the low ``n`` hold the data. The joint state is
``sum_b |b> ⊗ |psi_b> / sqrt(2**k)`` (or any state given with ``set_statevector``), and every gate acts on
the data qubits only, so the joint evolution is block diagonal: row ``b`` evolves exactly as it would alone.
A rotation whose angle is the same in every row is an ordinary gate; one whose angle varies across rows is
a *multiplexed* rotation, which is a diagonal gate over the rotated qubits and the index register between
fixed Clifford gates (``RX = H RZ H``, ``RY = S RX S†``, ``IsingXX = (H⊗H) IsingZZ (H⊗H)``, ...). Aer applies
``diagonal`` natively, in time linear in the state size.

Used by :class:`qml.aer_device.AerDevice` for exact statevector runs: a forward pass is one experiment with
one saved state, an adjoint gradient one forward and one reverse experiment, whatever the batch size.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import DiagonalGate

from .aer_compile import Structure, _pauli  # noqa: F401  (Structure for type hints)

# Clifford frames that turn a Z-type rotation into the rotation named: (before, after) gate names, per qubit.
_FRAMES = {
    "rz": ((), ()),
    "p": ((), ()),
    "rzz": ((), ()),
    "rx": (("h",), ("h",)),
    "rxx": (("h",), ("h",)),
    "ry": (("sdg", "h"), ("h", "s")),
    "ryy": (("sdg", "h"), ("h", "s")),
}


def index_bits(rows: int) -> int:
    """Index qubits needed for ``rows`` rows."""
    return max(0, int(rows - 1).bit_length())


def _phases(name: str, angles: np.ndarray, n_targets: int) -> np.ndarray:
    """Diagonal of a multiplexed Z-type rotation: index ``bits + 2**n_targets * row`` (little-endian)."""
    bits = np.arange(2**n_targets)
    if name == "p":
        z = bits & 1  # phase on |1>
        exponent = np.outer(angles, z) * 1j
    else:
        # parity eigenvalue of Z (rz) or Z⊗Z (rzz): +1 on even parity, -1 on odd
        parity = np.array([bin(b).count("1") % 2 for b in bits])
        sign = 1 - 2 * parity
        exponent = -0.5j * np.outer(angles, sign)
    return np.exp(exponent).reshape(-1)


class JointCircuitBuilder:
    """Builds joint circuits of one :class:`Structure` for a block of rows of gate angles."""

    def __init__(self, structure: Structure, qvals: np.ndarray):
        self.s = structure
        self.n = structure.n_wires
        self.rows = qvals.shape[0]
        self.k = index_bits(self.rows)
        padded = np.empty((2**self.k, qvals.shape[1]))
        padded[: self.rows] = qvals
        padded[self.rows :] = qvals[0]  # padding rows repeat row 0; their results are dropped
        self.qvals = padded
        self.index_qubits = list(range(self.n, self.n + self.k))

    @property
    def n_qubits(self) -> int:
        return self.n + self.k

    def _gate(self, qc: QuantumCircuit, i: int, inverse: bool) -> None:
        gate = self.s.gates[i]
        if gate.slot is None:
            self.s._append_gate(qc, i, inverse)  # fixed gate or constant rotation, on data qubits
            return
        angles = self.qvals[:, self.s.param_index(i)]
        if inverse:
            angles = -angles
        qubits = [self.s.qubit(w) for w in gate.wires]
        if self.k == 0 or np.all(angles == angles[0]):
            getattr(qc, gate.name)(float(angles[0]), *qubits)
            return
        before, after = _FRAMES[gate.name]
        for name in before:
            for q in qubits:
                getattr(qc, name)(q)
        z_name = {"rx": "rz", "ry": "rz", "rxx": "rzz", "ryy": "rzz"}.get(gate.name, gate.name)
        qc.append(DiagonalGate(list(_phases(z_name, angles, len(qubits)))), qubits + self.index_qubits)
        for name in after:
            for q in qubits:
                getattr(qc, name)(q)

    def forward(self, save_rotations: bool) -> QuantumCircuit:
        """Rows from ``|0>``: the final joint state ``psi``; with ``save_rotations`` also ``a{i}`` after
        every rotation ``gates[i]``."""
        qc = QuantumCircuit(self.n_qubits)
        if self.k:
            qc.h(self.index_qubits)
        for i, gate in enumerate(self.s.gates):
            self._gate(qc, i, inverse=False)
            if save_rotations and gate.slot is not None:
                qc.save_statevector(label=f"a{i}")
        qc.save_statevector(label="psi")
        return qc

    def reverse(self, initial: np.ndarray) -> QuantumCircuit:
        """The inverted circuit, backwards from the joint state ``initial``, saving ``a{i}`` at every
        rotation before undoing it."""
        qc = QuantumCircuit(self.n_qubits)
        qc.set_statevector(initial)
        for i in range(len(self.s.gates) - 1, -1, -1):
            if self.s.gates[i].slot is not None:
                qc.save_statevector(label=f"a{i}")
            self._gate(qc, i, inverse=True)
        return qc

    def split(self, joint, normalise: bool = True) -> np.ndarray:
        """The rows' data states ``(rows, 2**n)`` from a joint state of a forward run from ``|0>``."""
        states = np.asarray(joint, dtype=complex).reshape(2**self.k, 2**self.n)[: self.rows]
        return states * np.sqrt(2**self.k) if normalise else states

    def join(self, states: np.ndarray) -> np.ndarray:
        """A joint state from row states ``(rows, 2**n)`` (padding rows zero); not normalised."""
        joint = np.zeros((2**self.k, 2**self.n), dtype=complex)
        joint[: self.rows] = states
        return joint.reshape(-1)
