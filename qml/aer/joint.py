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

import itertools

import numpy as np

from .compile import Structure
from .layers import reversed_layers
from .paulis import bit_parities, walsh_hadamard
from .program import AerProgram

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
        # which rotations have different angles in different rows (multiplexed gates), per gate parameter
        self._varying = bool(self.k) & np.any(padded != padded[:1], axis=0)

    @property
    def n_qubits(self) -> int:
        return self.n + int(self.pair) + self.k

    def varies(self, i: int) -> bool:
        """Whether rotation ``gates[i]`` has different angles in different rows (a multiplexed gate)."""
        return bool(self._varying[self.s.param_index(i)])

    def _gate(self, qc: AerProgram, i: int, inverse: bool) -> None:
        gate = self.s.gates[i]
        if gate.slot is None:
            qc.gate(*self.s.gate_op(i, inverse))  # fixed gate or constant rotation, on data qubits
            return
        column = self.s.param_index(i)
        qubits = [self.s.qubit(w) for w in gate.wires]
        if not self._varying[column]:
            angle = self.qvals[0, column]
            qc.gate(gate.name, qubits, (-angle if inverse else angle,))
            return
        angles = -self.qvals[:, column] if inverse else self.qvals[:, column]
        before, after = _FRAMES[gate.name]
        for name in before:
            for q in qubits:
                qc.gate(name, (q,))
        z_name = {"rx": "rz", "ry": "rz", "rxx": "rzz", "ryy": "rzz"}.get(gate.name, gate.name)
        qc.diagonal(qubits + self.index_qubits, _phases(z_name, angles, len(qubits)))
        for name in after:
            for q in qubits:
                qc.gate(name, (q,))

    def forward(self) -> AerProgram:
        """Rows from ``|0>``, saving the final joint state ``psi``."""
        qc = AerProgram(self.n_qubits)
        for q in self.index_qubits:
            qc.gate("h", (q,))
        for i in range(len(self.s.gates)):
            self._gate(qc, i, inverse=False)
        qc.save_statevector("psi")
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

    def _save_layer_probabilities(self, qc: AerProgram, layer_index: int, measured: list[int]) -> dict:
        """Rotate each covered qubit so its letter reads as Z and save the probabilities; returns the
        letters ``{qubit: "X" | "Y"}`` whose rotation back is still to be applied (:meth:`_turn_back`).

        One pass over the state serves every rotation of the layer (generators on disjoint wires, or all
        diagonal and so all read in ``Z``): an expectation value per rotation cost about three gate passes
        each (measured, 12 qubits x 32 rows).
        """
        qubits, letters = self._layer_basis(measured)
        turned = {q: letters[q] for q in qubits[1:] if letters[q] in "XY"}
        for q, letter in turned.items():
            if letter == "Y":
                qc.gate("u", (q,), _TURN_TO_Y)  # H S†, one gate
            else:
                qc.gate("h", (q,))
        qc.save_probabilities(qubits, f"P{layer_index}")
        return turned

    @staticmethod
    def _turn_back(qc: AerProgram, turned: dict) -> None:
        for q, letter in turned.items():
            qc.gate("h", (q,))
            if letter == "Y":
                qc.gate("s", (q,))

    def _undo_layer(self, qc: AerProgram, layer: list[int], turned: dict) -> None:
        """Undo a layer's gates after its probabilities were read in the ``turned`` frames. A shared ``rx``
        or ``ry`` on a turned qubit becomes one gate with its frame's rotation back (``RY(-t) S H``): an
        ``ry`` layer then costs two passes per qubit instead of five."""
        merged = {}
        for i in layer:
            gate = self.s.gates[i]
            if gate.name in ("rx", "ry") and gate.slot is not None and not self.varies(i):
                q = self.s.qubit(gate.wires[0])
                if q in turned:
                    merged[i] = q
        self._turn_back(qc, {q: letter for q, letter in turned.items() if q not in merged.values()})
        for i in layer:
            if i not in merged:
                self._gate(qc, i, inverse=True)
                continue
            angle = -float(self.qvals[0, self.s.param_index(i)])
            name, q = self.s.gates[i].name, merged[i]
            qc.gate("u", (q,), u_angles(_rotation(name, angle) @ _TURN_BACK[turned[q]]))

    def layer_expectations(self, probabilities, measured: list[int]) -> dict[int, float]:
        """``<Y_flag ⊗ G_i>`` of every rotation ``i`` in ``measured``, from the probabilities
        :meth:`reverse_pair` saved before their layer.

        With every covered qubit read in its letter's basis, ``Y_flag ⊗ P_word`` is the parity of the flag
        and word bits, and a control projector ``|1><1| = (1 - Z) / 2`` expands into parities too. One
        Walsh-Hadamard transform of the probabilities gives every parity's expectation at once: entry
        ``S`` of it is ``sum_b p(b) (-1)^|b & S|`` (measured: the 80 rotations of a 16-qubit QAOA step need
        4 transforms of 2**16 entries, 1.3 ms each, where one marginal sum per rotation took 38 ms).
        """
        qubits, _ = self._layer_basis(measured)
        # Aer indexes the probabilities with the first listed qubit (the flag) as the lowest bit: the flag's
        # sign is one subtraction, and the data bits' parities come from the transform of the difference.
        p = np.asarray(probabilities, dtype=float)
        bit = {q: 1 << j for j, q in enumerate(qubits[1:])}
        generators = [self.s.gates[i].generator for i in measured]
        single = all(len(g.word) <= 1 and not g.ctrl for g in generators)
        # one rotation per qubit needs only single-bit parities, which cost far less than the transform
        parities = (bit_parities if single else walsh_hadamard)(p[0::2] - p[1::2])
        out = {}
        for i in measured:
            generator = self.s.gates[i].generator
            mask = 0
            for w, _ in generator.word:
                mask |= bit[self.s.qubit(w)]
            ctrl = [bit[self.s.qubit(w)] for w in generator.ctrl]
            value = 0.0
            for subset in itertools.product((0, 1), repeat=len(ctrl)):
                extra = sum(c for c, take in zip(ctrl, subset, strict=True) if take)
                value += (-1) ** sum(subset) * parities[mask | extra]
            out[i] = generator.coeff * value / 2 ** len(ctrl)
        return out

    def reverse_pair(self, initial: np.ndarray, summed: set[int], saved: set[int]) -> AerProgram:
        """The inverted circuit run backwards on the paired register from the joint state ``initial``.

        The gates run layer by layer (:func:`.layers.reversed_layers`). Before a layer whose rotations are in
        ``summed`` it saves the probabilities ``P{layer}`` from which :meth:`layer_expectations` reads
        each one's ``<Y_flag ⊗ G_i>`` (``-2 sum_rows Im <lambda_r|G_i|psi_r> / |initial|^2`` for a
        normalised ``initial``); and, when a rotation of it is in ``saved``, the joint state ``L{layer}``
        (split it with :meth:`split_pair`), from which every rotation of the layer gets its overlaps.
        """
        qc = AerProgram(self.n_qubits)
        qc.set_statevector(initial)  # normalised by the caller
        layers = reversed_layers(self.s, frozenset(summed | saved))
        needed = [k for k, layer in enumerate(layers) if any(i in summed or i in saved for i in layer)]
        # The pass ends at the earliest rotation that needs a derivative: gates before it (an input
        # embedding, say) are never undone.
        for layer_index, layer in enumerate(layers[: needed[-1] + 1] if needed else []):
            last = layer_index == needed[-1]
            measured = [i for i in layer if i in summed]
            turned = self._save_layer_probabilities(qc, layer_index, measured) if measured else {}
            if any(i in saved for i in layer):
                self._turn_back(qc, turned)
                turned = {}
                qc.save_statevector(f"L{layer_index}")
            if not last:  # after the last save nothing is read: its frames stay turned
                self._undo_layer(qc, layer, turned)
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


_H = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
#: The rotation back from a letter's frame (``H`` for X, ``S H`` for Y), and the turn to Y (``H S†``).
_TURN_BACK = {"X": _H, "Y": np.diag([1, 1j]) @ _H}


def u_angles(matrix: np.ndarray) -> tuple[float, float, float]:
    """``(theta, phi, lam)`` of Qiskit's ``u`` gate equal to a 2 x 2 unitary up to a global phase (which the
    paired register carries on both halves alike, so no reading sees it). A ``u`` gate is a standard gate:
    appending one costs microseconds, a ``unitary`` about 0.2 ms of validation."""
    su = matrix / np.sqrt(complex(np.linalg.det(matrix)))  # [[a, -conj(b)], [b, conj(a)]]
    a, b = su[0, 0], su[1, 0]
    theta = 2 * np.arctan2(abs(b), abs(a))
    total, difference = -2 * np.angle(a), 2 * np.angle(b)  # phi + lam, phi - lam
    return float(theta), float((total + difference) / 2), float((total - difference) / 2)


_TURN_TO_Y = u_angles(_H @ np.diag([1, -1j]))


def _rotation(name: str, angle: float) -> np.ndarray:
    """The matrix of ``rx`` or ``ry`` by ``angle`` (Qiskit's convention, ``exp(-i angle P / 2)``)."""
    c, s = np.cos(angle / 2), np.sin(angle / 2)
    if name == "rx":
        return np.array([[c, -1j * s], [-1j * s, c]])
    return np.array([[c, -s], [s, c]])
