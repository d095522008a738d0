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

Used by :class:`~qhybrid.qml.aer.AerDevice` for exact statevector runs: a forward pass is one experiment with
one saved state, an adjoint gradient one forward and one reversed experiment, whatever the batch size. The
reversed experiment pairs each row's state with its back-propagated vector on one more (flag) qubit, so the
overlaps the gradient needs are expectation values Aer computes in place (:meth:`JointCircuitBuilder.reverse_pair`).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import DiagonalGate

from .compile import Structure

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
    """Builds joint circuits of one :class:`Structure` for a block of rows of gate angles.

    With ``pair`` the register has one more qubit, the *flag*, between data and index: the adjoint's
    reversed experiment carries each row's forward state (flag 0) and back-propagated state (flag 1)
    side by side, so ``<lambda|G|psi>`` is the expectation value of ``Y_flag ⊗ G`` (see :meth:`reverse_pair`).
    """

    def __init__(self, structure: Structure, qvals: np.ndarray, pair: bool = False):
        self.s = structure
        self.n = structure.n_wires
        self.rows = qvals.shape[0]
        self.k = index_bits(self.rows)
        self.pair = pair
        padded = np.empty((2**self.k, qvals.shape[1]))
        padded[: self.rows] = qvals
        padded[self.rows :] = qvals[0]  # padding rows repeat row 0; their results are dropped
        self.qvals = padded
        start = self.n + int(pair)
        self.index_qubits = list(range(start, start + self.k))

    @property
    def n_qubits(self) -> int:
        return self.n + int(self.pair) + self.k

    def varies(self, i: int) -> bool:
        """Whether rotation ``gates[i]`` has different angles in different rows (a multiplexed gate)."""
        angles = self.qvals[:, self.s.param_index(i)]
        return bool(self.k) and not np.all(angles == angles[0])

    def _gate(self, qc: QuantumCircuit, i: int, inverse: bool) -> None:
        gate = self.s.gates[i]
        if gate.slot is None:
            self.s._append_gate(qc, i, inverse)  # fixed gate or constant rotation, on data qubits
            return
        angles = self.qvals[:, self.s.param_index(i)]
        if inverse:
            angles = -angles
        qubits = [self.s.qubit(w) for w in gate.wires]
        if not self.varies(i):
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

    def forward(self) -> QuantumCircuit:
        """Rows from ``|0>``, saving the final joint state ``psi``."""
        qc = QuantumCircuit(self.n_qubits)
        if self.k:
            qc.h(self.index_qubits)
        for i in range(len(self.s.gates)):
            self._gate(qc, i, inverse=False)
        qc.save_statevector(label="psi")
        return qc

    def _layer_basis(self, measured: list[int]) -> tuple[list[int], dict[int, str]]:
        """The qubits a layer's probabilities cover (flag first, then the data qubits its rotations'
        generators touch) and the Pauli letter each data qubit is read in. The flag is read as it is: the
        paired state comes in already turned to the flag's ``Y`` basis (:meth:`join_pair`)."""
        letters = {}
        for i in measured:
            generator = self.s.gates[i].generator
            for w, p in generator.word:
                letters[self.s.qubit(w)] = p
            for w in generator.ctrl:
                letters[self.s.qubit(w)] = "Z"
        return [self.n] + sorted(letters), letters

    def _save_layer_probabilities(self, qc: QuantumCircuit, layer_index: int, measured: list[int]) -> None:
        """Rotate each covered qubit so its letter reads as Z, save the probabilities, rotate back.

        One pass over the state serves every rotation of the layer (generators on disjoint wires, or all
        diagonal and so all read in ``Z``): an expectation value per rotation cost about three gate passes
        each (measured, 12 qubits x 32 rows).
        """
        qubits, letters = self._layer_basis(measured)
        data = qubits[1:]
        for q in data:
            if letters[q] == "Y":
                qc.sdg(q)
            if letters[q] in "XY":
                qc.h(q)
        qc.save_probabilities(qubits, label=f"P{layer_index}")
        for q in data:
            if letters[q] in "XY":
                qc.h(q)
            if letters[q] == "Y":
                qc.s(q)

    def layer_expectations(self, probabilities, measured: list[int]) -> dict[int, float]:
        """``<Y_flag ⊗ G_i>`` of every rotation ``i`` in ``measured``, from the probabilities
        :meth:`reverse_pair` saved before their layer.

        With every covered qubit read in its letter's basis, ``Y_flag ⊗ P_word`` is the parity of the flag
        and word bits, and a control projector ``|1><1| = (1 - Z) / 2`` expands into parities too. One
        Walsh-Hadamard transform of the probabilities gives every parity's expectation at once: entry
        ``S`` of it is ``sum_b p(b) (-1)^|b & S|`` (measured: 80 rotations of a QAOA step read in 3 ms,
        against 38 ms for one marginal sum per rotation).
        """
        qubits, _ = self._layer_basis(measured)
        # Aer indexes the probabilities with the first listed qubit (the flag) as the lowest bit: the flag's
        # sign is one subtraction, and the data bits' parities come from the transform of the difference.
        p = np.asarray(probabilities, dtype=float)
        parities = walsh_hadamard(p[0::2] - p[1::2])
        bit = {q: 1 << j for j, q in enumerate(qubits[1:])}
        out = {}
        for i in measured:
            generator = self.s.gates[i].generator
            mask = 0
            for w, _ in generator.word:
                mask |= bit[self.s.qubit(w)]
            ctrl = [bit[self.s.qubit(w)] for w in generator.ctrl]
            value = 0.0
            for subset in itertools.product((0, 1), repeat=len(ctrl)):
                extra = sum(c for c, take in zip(ctrl, subset) if take)
                value += (-1) ** sum(subset) * parities[mask | extra]
            out[i] = generator.coeff * value / 2 ** len(ctrl)
        return out

    def reverse_pair(self, initial: np.ndarray, summed: set[int], saved: set[int]) -> QuantumCircuit:
        """The inverted circuit run backwards on the paired register from the joint state ``initial``.

        The gates run layer by layer (:func:`reversed_layers`). Before a layer whose rotations are in
        ``summed`` it saves the probabilities ``P{layer}`` from which :meth:`layer_expectations` reads
        each one's ``<Y_flag ⊗ G_i>`` (``-2 sum_rows Im <lambda_r|G_i|psi_r> / |initial|^2`` for a
        normalised ``initial``); and, when a rotation of it is in ``saved``, the joint state ``L{layer}``
        (split it with :meth:`split_pair`), from which every rotation of the layer gets its overlaps.
        """
        qc = QuantumCircuit(self.n_qubits)
        qc.set_statevector(initial)
        for layer_index, layer in enumerate(reversed_layers(self.s)):
            measured = [i for i in layer if i in summed]
            if measured:
                self._save_layer_probabilities(qc, layer_index, measured)
            if any(i in saved for i in layer):
                qc.save_statevector(label=f"L{layer_index}")
            for i in layer:
                self._gate(qc, i, inverse=True)
        return qc

    def join_pair(self, psi: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """The paired joint state (not normalised) of row states ``psi`` and ``lam`` ``(rows, 2**n)``, with
        the flag turned to its ``Y`` basis (``H S†`` on the flag: ``((psi - i lam), (psi + i lam)) / sqrt 2``).

        No gate acts on the flag, so this turn commutes with the whole reversed pass: made once here, it
        spares the two frame gates per side that every saved layer would otherwise put on the flag.
        """
        joint = np.zeros((2**self.k, 2, 2**self.n), dtype=complex)
        turned = lam * (1j / np.sqrt(2))
        joint[: self.rows, 0] = psi / np.sqrt(2) - turned
        joint[: self.rows, 1] = psi / np.sqrt(2) + turned
        return joint.reshape(-1)

    def split_pair(self, joint) -> tuple[np.ndarray, np.ndarray]:
        """Row states ``(psi, lam)`` of a paired joint state, as saved (scale them back yourself): the
        flag's turn of :meth:`join_pair` undone."""
        states = np.asarray(joint, dtype=complex).reshape(2**self.k, 2, 2**self.n)[: self.rows]
        up, down = states[:, 0], states[:, 1]
        return (up + down) / np.sqrt(2), (up - down) * (1j / np.sqrt(2))

    def split(self, joint) -> np.ndarray:
        """The rows' data states ``(rows, 2**n)`` from the joint state of :meth:`forward`."""
        states = np.asarray(joint, dtype=complex).reshape(2**self.k, 2**self.n)[: self.rows]
        return states * np.sqrt(2**self.k)


#: Bits of the Walsh-Hadamard transform done by one product with a dense Hadamard matrix (the butterflies
#: of the low bits run over short strides, where numpy is slowest: 5.8 ms against 8.5 ms at 2**17).
_DENSE_BITS = 7


@functools.cache
def _hadamard(bits: int) -> np.ndarray:
    """The ``2**bits`` Sylvester-Hadamard matrix (entries ±1)."""
    h = np.ones((1, 1))
    for _ in range(bits):
        h = np.block([[h, h], [h, -h]])
    return h


def walsh_hadamard(p: np.ndarray) -> np.ndarray:
    """The Walsh-Hadamard transform of a vector of length ``2**m``: entry ``S`` is
    ``sum_b p[b] (-1)^popcount(b & S)``, the expectation of the ``Z`` parity of the bits in ``S``."""
    p = np.asarray(p, dtype=float)
    size = len(p)
    low = min(_DENSE_BITS, size.bit_length() - 1)
    w = (p.reshape(-1, 2**low) @ _hadamard(low)).reshape(-1)
    out = np.empty_like(w)
    span = 2**low
    while span < size:
        v, o = w.reshape(-1, 2, span), out.reshape(-1, 2, span)
        np.add(v[:, 0], v[:, 1], out=o[:, 0])
        np.subtract(v[:, 0], v[:, 1], out=o[:, 1])
        w, out = out, w
        span *= 2
    return w


#: Native gates diagonal in the computational basis (multiplexed Z-type rotations are diagonal too): any two
#: of them commute, whatever wires they share.
DIAGONAL_GATES = frozenset({"rz", "p", "rzz", "z", "s", "t", "cz"})


def reversed_layers(structure: Structure) -> list[list[int]]:
    """The structure's gates in reverse order, grouped into layers of gates that commute with one another.

    Two gates commute when their data wires are disjoint (a multiplexed rotation acts on the index register
    only as a control) or when both are diagonal. So whatever a reversed pass saves for a layer's gates can
    stand before the whole layer: one snapshot serves all its rotations, and the saves no longer split every
    run of gates that Aer would fuse. A gate joins the earliest layer after the last gate it does not
    commute with (a diagonal gate waits only for the non-diagonal gates on its wires): a QAOA cost layer's
    phase gates, on a graph's overlapping edges, become one layer.
    """
    key = "reversed_layers"
    if key not in structure.circuits:
        layers: list[list[int]] = []
        after_any: dict[int, int] = {}  # per wire: the highest layer holding a gate on it
        after_mixing: dict[int, int] = {}  # per wire: the highest layer holding a non-diagonal gate on it
        for i in range(len(structure.gates) - 1, -1, -1):
            gate = structure.gates[i]
            diagonal = gate.name in DIAGONAL_GATES
            blocking = after_mixing if diagonal else after_any
            level = max((blocking.get(w, -1) for w in gate.wires), default=-1) + 1
            for w in gate.wires:
                after_any[w] = max(after_any.get(w, -1), level)
                if not diagonal:
                    after_mixing[w] = max(after_mixing.get(w, -1), level)
            if level == len(layers):
                layers.append([])
            layers[level].append(i)
        structure.circuits[key] = layers
    return structure.circuits[key]


def layer_of(structure: Structure) -> dict[int, int]:
    """Gate index -> index of its layer in :func:`reversed_layers`."""
    return {i: k for k, layer in enumerate(reversed_layers(structure)) for i in layer}
