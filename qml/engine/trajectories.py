"""``TrajectoryCircuit``: a circuit under Pauli noise as an average of noisy pure-state trajectories on the
statevector engine, each with its exact adjoint gradient.

A Pauli channel ``E(rho) = sum_Q p_Q Q rho Q`` (depolarising, bit and phase flips, Pauli errors: a diagonal
Pauli transfer matrix) is a mixture of unitaries whose probabilities do not depend on the state. So an
expectation value under the noisy circuit is the average, over Pauli insertions drawn with those
probabilities, of the expectation value of the pure state each insertion gives, and its gradient is the
average of their gradients, each exact by the statevector engine's adjoint pass. ``T`` trajectories per
row give an unbiased estimate whose standard error is the spread of the trajectory values over ``sqrt(T)``
(:attr:`TrajectoryCircuit.last_standard_error`), with the memory of ``B * T`` state vectors instead of a
``4**n`` density matrix: a noisy 16-qubit layer is 8 rows x 100 trajectories of ``2**16`` amplitudes.

Errors sit where Aer puts them: after each of the gates Aer runs (a ``Rot`` is three rotations, each with
its error), on the gate's qubits; a PennyLane Pauli channel in the circuit is a site of its own. The drawn
Paulis do not become gates: they travel through the circuit as a *Pauli frame*. A Clifford gate ``C`` turns
the frame ``F`` into ``C F C^dagger`` (bits of a stabiliser tableau); a rotation ``exp(-i t G / 2)`` past ``F``
becomes ``exp(+i t G / 2)`` where ``F`` anticommutes with ``G``; at the end ``<F^dagger O F> = -<O>`` where
``F`` anticommutes with the measured word ``O``. So each trajectory is the noiseless circuit with a sign per
rotation angle (an extra input column, the angle traced as ``sign * angle``) and a sign per output, and the
rows of one compiled circuit are ``(row, trajectory)`` pairs; a trajectory drawn twice for a row runs once.
Where a gate cannot pass a frame (``T``, Toffoli), an observable is not one Pauli word, or a signed angle is
more than the trace takes, the Paulis are inserted as gates instead: ``RX(a) RY(b)`` per wire with ``a, b``
in ``{0, pi}`` (``X = i RX(pi)``, ``Y = i RY(pi)``, ``Z = -i RY(pi) RX(pi)``: global phases), about 10x
slower at 12 qubits (per-row gates). Noise that is not a Pauli channel (thermal relaxation, amplitude
damping) changes the trajectories' odds with the state; it is refused with the name of the gate it sits on
(``torch.density`` runs it exactly).

Example:
    >>> import pennylane as qp, torch
    >>> from qhybrid.qml.noise import NoiseSpec, noise_model
    >>> def f(x, w):
    ...     qp.RX(x[..., 0], wires=0)
    ...     qp.CNOT([0, 1])
    ...     return [qp.expval(qp.Z(1))]
    >>> circuit = TrajectoryCircuit(f, 2, 1, (1,), noise_model(NoiseSpec(depolarizing_2q=0.2)), 4000, seed=1)
    >>> value = circuit(torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    >>> abs(float(value[0, 0]) - 0.8) < 4 * float(circuit.last_standard_error[0, 0])
    True
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qp
import torch
from pennylane.devices.preprocess import decompose

from ..aer.compile import _FIXED_GATES, native_gates
from .circuit import CompiledCircuit
from .density_plan import keeps
from .superops import gate_error, ptm
from .trace import NotTraceable

#: Aer's rotations as PennyLane operations, with their generator's Pauli word (wires in the gate's order)
_ROTATIONS = {
    "rx": (qp.RX, "X"),
    "ry": (qp.RY, "Y"),
    "rz": (qp.RZ, "Z"),
    "p": (qp.PhaseShift, "Z"),
    "rxx": (qp.IsingXX, "XX"),
    "ryy": (qp.IsingYY, "YY"),
    "rzz": (qp.IsingZZ, "ZZ"),
}
_FIXED_OPS = {aer: getattr(qp, name) for name, aer in _FIXED_GATES.items()}


def pauli_probabilities(transfer: np.ndarray, where: str) -> np.ndarray:
    """The probabilities ``p_Q`` of the Pauli channel with diagonal transfer matrix ``transfer`` (words in
    ``I, X, Y, Z`` order, first qubit most significant): ``d_P = sum_Q p_Q chi(P, Q)``, ``chi`` being +1
    where the words commute and -1 where they do not, and ``chi^2 = 4**k``.

    Raises:
        NotTraceable: the channel is not a Pauli channel (``where`` names it).
    """
    if np.max(np.abs(transfer - np.diag(np.diag(transfer)))) > 1e-12:
        raise NotTraceable(
            f"the trajectory engine samples Pauli noise only, and the noise on {where} is not a Pauli channel "
            "(thermal relaxation, amplitude or phase damping change the trajectories' odds with the state): "
            "use backend 'torch.density', which runs every channel exactly"
        )
    one = np.array([[1, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]], dtype=np.float64)
    chi = np.ones((1, 1))
    for _ in range(round(math.log(len(transfer), 4))):
        chi = np.kron(chi, one)
    p = np.clip(chi @ np.diag(transfer) / len(transfer), 0.0, None)
    return p / p.sum()


#: Clifford gates a Pauli frame passes through: each as steps on the frame's bits (``cx`` control, target)
_CLIFFORDS = frozenset({"cx", "cz", "cy", "swap", "h", "s", "sx", "x", "y", "z"})
#: a letter's (x, z) bits, by its index in the transfer matrices' order ``IXYZ``
_LETTERS = "IXYZ"
_X_BIT, _Z_BIT = np.array([0, 1, 1, 0], dtype=bool), np.array([0, 0, 1, 1], dtype=bool)


class _NoFrame(Exception):
    """The circuit has a gate or measurement a Pauli frame cannot pass: Paulis are inserted instead."""


class _Program:
    """What the trajectories of a circuit draw, in circuit order. ``events``: ``("site", wires, p)`` an error
    (Pauli probabilities ``p``), and with a frame ``("rotation", word)`` (one sign column each) and
    ``("clifford", name, wires)``; ``words``: each measured Pauli word (with a frame)."""

    def __init__(self, frame: bool):
        self.frame = frame
        self.events: list[tuple] = []
        self.words: list[tuple[tuple[int, str], ...]] = []

    @property
    def sites(self) -> list:
        return [e for e in self.events if e[0] == "site"]

    @property
    def columns(self) -> int:
        if self.frame:
            return sum(1 for e in self.events if e[0] == "rotation")
        return 2 * sum(len(e[1]) for e in self.sites)


def _word_of(mp) -> tuple[tuple[int, str], ...]:
    rep = None if mp.obs is None else mp.obs.pauli_rep
    if not isinstance(mp, qp.measurements.ExpectationMP) or rep is None or len(rep) != 1:
        raise _NoFrame("an observable that is not one Pauli word")
    (word,) = rep.keys()
    return tuple((int(w), letter) for w, letter in word.items())


def _emit(fn, n_wires: int, n_inputs: int, model, program: _Program, inputs, weights) -> list:
    """``fn`` decomposed to Aer's gates for ``program``: with a Pauli frame each rotation's angle times a sign
    column (the frame is drawn in numpy, :meth:`TrajectoryCircuit.columns`), else a Pauli insertion (``RX``,
    ``RY`` per wire) after each noisy gate and at each channel. Records the events."""
    tape = qp.tape.make_qscript(fn)(inputs[..., :n_inputs], weights)
    (tape,), _ = decompose(tape, stopping_condition=keeps, skip_initial_state_prep=False, name="trajectories")
    column = n_inputs

    def site(wires, probabilities):
        nonlocal column
        program.events.append(("site", tuple(wires), probabilities))
        if not program.frame:
            for w in wires:
                qp.RX(inputs[..., column], wires=w)
                qp.RY(inputs[..., column + 1], wires=w)
                column += 2

    def gate(g, op):
        nonlocal column
        if g.name in _FIXED_OPS:
            if program.frame and g.name not in _CLIFFORDS:
                raise _NoFrame(g.name)
            _FIXED_OPS[g.name](wires=g.wires)
            if program.frame:
                program.events.append(("clifford", g.name, tuple(g.wires)))
            return
        rotation, generator = _ROTATIONS[g.name]
        angle = g.angle if g.slot is None else g.scale * op.parameters[g.slot]
        if program.frame:
            program.events.append(("rotation", tuple(zip(g.wires, generator, strict=True))))
            angle = inputs[..., column] * angle
            column += 1
        rotation(angle, wires=g.wires)

    for op in tape.operations:
        wires = tuple(int(w) for w in op.wires)
        if isinstance(op, qp.operation.Channel):
            kraus = [np.asarray(k, dtype=np.complex128) for k in op.kraus_matrices()]
            site(wires, pauli_probabilities(ptm(kraus), f"channel {op.name} on wires {list(wires)}"))
            continue
        gates = native_gates(op.name, wires)
        errors = [gate_error(model, g.name, tuple(n_wires - 1 - w for w in g.wires)) for g in gates]
        if not program.frame and (len(gates) == 1 or all(e is None for e in errors)):
            qp.apply(op)  # whole; its errors after it
            for g, e in zip(gates, errors, strict=True):
                if e is not None:
                    site(g.wires, pauli_probabilities(e, f"gate {g.name} on wires {list(g.wires)}"))
            continue
        for g, e in zip(gates, errors, strict=True):  # errors between the gates Aer runs
            gate(g, op)
            if e is not None:
                site(g.wires, pauli_probabilities(e, f"gate {g.name} on wires {list(g.wires)}"))
    if program.frame:
        program.words = [_word_of(mp) for mp in tape.measurements]
    return [qp.apply(mp) for mp in tape.measurements]


def _conjugate(x: np.ndarray, z: np.ndarray, name: str, wires) -> None:
    """The frame's bits ``(rows, n)`` after Clifford ``name`` on ``wires``: ``F -> C F C^dagger``."""
    if name == "cx":
        c, t = wires
        x[:, t] ^= x[:, c]
        z[:, c] ^= z[:, t]
    elif name == "cz":
        a, b = wires
        z[:, a] ^= x[:, b]
        z[:, b] ^= x[:, a]
    elif name == "cy":  # S_t CX S_t^dagger
        c, t = wires
        z[:, t] ^= x[:, t]
        _conjugate(x, z, "cx", wires)
        z[:, t] ^= x[:, t]
    elif name == "swap":
        a, b = wires
        x[:, [a, b]] = x[:, [b, a]]
        z[:, [a, b]] = z[:, [b, a]]
    elif name == "h":
        (w,) = wires
        x[:, w], z[:, w] = z[:, w].copy(), x[:, w].copy()
    elif name == "s":
        z[:, wires[0]] ^= x[:, wires[0]]
    elif name == "sx":
        x[:, wires[0]] ^= z[:, wires[0]]
    # x, y, z: a Pauli commutes with the frame up to a phase


def _anticommutes(x: np.ndarray, z: np.ndarray, word) -> np.ndarray:
    """Per row, whether the frame anticommutes with ``word`` (``(wire, letter)`` pairs)."""
    out = np.zeros(x.shape[0], dtype=bool)
    for w, letter in word:
        i = _LETTERS.index(letter)
        out ^= (x[:, w] & _Z_BIT[i]) ^ (z[:, w] & _X_BIT[i])
    return out


#: The states of one engine call at most (256 MiB): more trajectories run in chunks of rows, each run again
#: in the backward pass, so a 20-qubit layer with 8 x 100 trajectories (13 GiB of states) fits.
CHUNK_BYTES = 1 << 28


class _Chunked(torch.autograd.Function):
    """``circuit(rows, weights)`` chunk by chunk; the backward pass runs each chunk again and takes its
    vector-Jacobian product, so only one chunk's states are alive at a time."""

    @staticmethod
    def forward(ctx, circuit, per_call: int, rows: torch.Tensor, weights: torch.Tensor):
        ctx.circuit, ctx.per_call = circuit, per_call
        ctx.save_for_backward(rows, weights)
        with torch.no_grad():
            return torch.cat([circuit(part, weights) for part in rows.split(per_call)])

    @staticmethod
    def backward(ctx, grad):
        rows, weights = ctx.saved_tensors
        row_grads, weight_grad = [], torch.zeros_like(weights)
        for part, g in zip(rows.split(ctx.per_call), grad.split(ctx.per_call), strict=True):
            with torch.enable_grad():
                p, w = (
                    part.detach().requires_grad_(ctx.needs_input_grad[2]),
                    weights.detach().requires_grad_(),
                )
                out = ctx.circuit(p, w)
                wanted = [w] + ([p] if ctx.needs_input_grad[2] else [])
                got = torch.autograd.grad(out, wanted, g, allow_unused=True)
            weight_grad += got[0] if got[0] is not None else 0
            if ctx.needs_input_grad[2]:
                row_grads.append(got[1] if got[1] is not None else torch.zeros_like(part))
        rows_grad = torch.cat(row_grads) if ctx.needs_input_grad[2] else None
        return None, None, rows_grad, weight_grad


class TrajectoryCircuit:
    """``fn(inputs, weights)`` under an Aer noise model of Pauli errors, a PennyLane ``NoiseModel`` of Pauli
    channels, or None (a circuit with PennyLane Pauli channels of its own), estimated from ``trajectories`` pure-state trajectories per row; call it
    with ``(B, n_inputs)`` inputs and the weights. ``seed`` fixes the trajectories drawn (a new draw each
    call).

    Raises:
        NotTraceable: (a ``ValueError``) noise that is not a Pauli channel, or a gate, parameter or
            measurement the statevector engine does not run; the message names it.
        ValueError: ``trajectories`` is not a positive integer.
    """

    def __init__(
        self, fn, n_wires: int, n_inputs: int, weight_shape, noise_model, trajectories: int, seed=None
    ):
        if isinstance(trajectories, bool) or not isinstance(trajectories, int) or trajectories < 1:
            raise ValueError(f"trajectories must be a positive integer, got {trajectories!r}")
        if isinstance(noise_model, qp.NoiseModel):
            from .density import with_pennylane_noise

            fn, noise_model = with_pennylane_noise(fn, noise_model), None
        elif noise_model is not None and not hasattr(noise_model, "_local_quantum_errors"):
            raise NotTraceable(
                f"noise_model must be an Aer NoiseModel, a PennyLane NoiseModel or None, got {noise_model!r}"
            )
        self.n_wires, self.n_inputs, self.trajectories = n_wires, n_inputs, trajectories
        weight_shape = tuple(weight_shape)
        try:
            self.program, self.circuit = self._compile(fn, noise_model, weight_shape, frame=True)
        except (_NoFrame, NotTraceable):  # a gate the frame cannot pass, or a signed angle the trace refuses
            self.program, self.circuit = self._compile(fn, noise_model, weight_shape, frame=False)
        self._rng = np.random.default_rng(seed)
        #: ``(B, n_observables)`` standard errors of the latest call's estimates
        self.last_standard_error: torch.Tensor | None = None

    def _compile(self, fn, model, weight_shape, frame: bool) -> tuple[_Program, CompiledCircuit]:
        n_wires, n_inputs = self.n_wires, self.n_inputs
        # a first pass on zeros finds the events, so the compiled circuit knows its input count
        program = _Program(frame)
        probe = np.zeros((1, n_inputs + 10**6))  # more columns than any circuit has events
        qp.tape.make_qscript(_emit)(fn, n_wires, n_inputs, model, program, probe, np.zeros(weight_shape))
        traced = _Program(frame)

        def noisy(inputs, weights):
            traced.events.clear()
            return _emit(fn, n_wires, n_inputs, model, traced, inputs, weights)

        circuit = CompiledCircuit(noisy, n_wires, n_inputs + program.columns, weight_shape)
        if len(traced.events) != len(program.events):
            raise NotTraceable("the circuit's noisy gates depend on its parameter values")
        return program, circuit

    @property
    def frame(self) -> bool:
        """Whether the Paulis travel as a frame (signs of the rotation angles and of the measured words), or
        are inserted as gates (a circuit with a gate the frame cannot pass: ``T``, Toffoli, ...)."""
        return self.program.frame

    def sample(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """``rows`` fresh trajectories: ``(rows, columns)`` circuit inputs (the rotations' signs with a frame,
        else the insertion angles, 0 or pi) and ``(rows, n_observables)`` signs of the measured words."""
        columns = np.zeros((rows, self.program.columns))
        x = np.zeros((rows, self.n_wires), dtype=bool)
        z = np.zeros_like(x)
        column = 0
        for event in self.program.events:
            if event[0] == "site":
                _, wires, p = event
                drawn = self._rng.choice(len(p), size=rows, p=p)
                for j, w in enumerate(wires):
                    letter = (drawn >> (2 * (len(wires) - 1 - j))) & 3  # 0 I, 1 X, 2 Y, 3 Z
                    if self.frame:
                        x[:, w] ^= _X_BIT[letter]
                        z[:, w] ^= _Z_BIT[letter]
                    else:
                        columns[:, column] = np.where((letter == 1) | (letter == 3), np.pi, 0.0)
                        columns[:, column + 1] = np.where(letter >= 2, np.pi, 0.0)
                        column += 2
            elif event[0] == "rotation":
                columns[:, column] = np.where(_anticommutes(x, z, event[1]), -1.0, 1.0)
                column += 1
            else:  # "clifford"
                _conjugate(x, z, event[1], event[2])
        signs = np.ones((rows, max(1, len(self.program.words))))
        for j, word in enumerate(self.program.words):
            signs[:, j] = np.where(_anticommutes(x, z, word), -1.0, 1.0)
        return columns, signs

    def __call__(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``(B, n_inputs)`` inputs and the weights -> ``(B, n_observables)`` estimates (the mean over the
        trajectories: differentiable, its gradient the mean of theirs)."""
        rows, t = inputs.shape[0], self.trajectories
        if rows == 0:  # no rows, no trajectories: the engine's empty answer, still attached to the weights
            empty = inputs.new_zeros(0, self.n_inputs + self.program.columns)
            values = self.circuit(empty, weights)
            self.last_standard_error = values.detach().clone()
            return values
        angles, signs = self.sample(rows * t)
        # a trajectory drawn twice for a row (most often: no error at all) runs once
        keys = np.concatenate([np.repeat(np.arange(rows), t)[:, None], angles > 0], axis=1)
        distinct, first, again = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        extended = torch.cat(
            [
                inputs[torch.as_tensor(distinct[:, 0], device=inputs.device)],
                torch.as_tensor(angles[first], dtype=inputs.dtype, device=inputs.device),
            ],
            dim=1,
        )
        per_call = max(1, CHUNK_BYTES // (16 * 2**self.n_wires))
        if extended.shape[0] <= per_call:
            values = self.circuit(extended, weights)
        else:
            values = _Chunked.apply(self.circuit, per_call, extended, weights)
        values = values[torch.as_tensor(again.reshape(-1), device=values.device)]
        if self.frame:
            values = values * torch.as_tensor(
                signs[:, : values.shape[1]], dtype=values.dtype, device=values.device
            )
        values = values.reshape(rows, t, -1)
        spread = values.detach().std(dim=1) if t > 1 else torch.full_like(values[:, 0].detach(), math.inf)
        self.last_standard_error = spread / math.sqrt(t)
        return values.mean(dim=1)
