"""Adjoint derivatives on the Aer density matrix, depolarising noise included.

Forward, ``rho_k`` is the state right after rotation ``k`` and its noise. For ``U(t) = exp(-i t G)`` followed
by a channel ``D`` covariant under every unitary on the gate's qubits (``D(V X V†) = V D(X) V†``),
``d rho_k / dt = -i [G, rho_k]``, so with ``O_k`` the observable carried back from the end to just after
gate ``k`` (Heisenberg picture: ``O_k = E_{k+1}†(... E_N†(O))``)::

    d<O>/dt_k = Tr(O_k (-i)[G, rho_k]) = 2 Im Tr(O_k G rho_k).

A depolarising channel is covariant and self-adjoint, so ``E_j†(Y) = U_j† D_j(Y) U_j = D_j(U_j† Y U_j)``:
the reversed circuit (inverse gates in reverse order) run *with the same noise model* applies exactly the
adjoint channels, when every gate and the inverse Aer runs in its place carry the same depolarising error
(:func:`noise_allows_adjoint`). Aer loads only valid density matrices, so the reversed run starts from
``(O + c I) / N`` with ``c = sum |coefficients|`` (``>= -lambda_min(O)``) and ``N = c 2**n``: unital channels
and unitaries carry ``c I`` unchanged, ``Tr(I G rho)`` is real, so with ``B_k`` the saved matrix
``d<O>/dt_k = 2 N Im Tr(B_k G rho_k)``, and ``Tr(B G rho) = vdot(B, G rho)`` as ``B`` is Hermitian.

One Aer job holds the forward circuit (saving ``rho_k`` at every trainable rotation, rows as parameter
sets; skipped when the forward pass of the same call kept them, :func:`keep_matrices`) and the reversed
circuits, one per distinct starting observable, each run for the rows that need it (:func:`_plan`). A
training step (forward, then vector-Jacobian product) is two Aer calls whatever the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction, Instruction
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import PTM

from .param_shift import cotangent_weights, tape_result, trainable_slots
from .paulis import apply_pauli_word, pauli_of
from .runner import MAX_BINDS_PER_JOB, AerRunner, flatten

# Names whose inverse Aer runs under another name in the reversed circuit (rotations keep theirs).
_INVERSE_NAMES = (("s", "sdg"), ("t", "tdg"), ("sx", "sxdg"))
_TOL = 1e-10

# --------------------------------------------------------------------------------- where it applies
# Verdicts by the identity of every error a model holds: checking costs tens of milliseconds (a Pauli
# transfer matrix per error), and a model changed after a check (add_quantum_error stores new error objects)
# gets a new key. Each entry keeps its errors alive so that their ids stay theirs.
_verdicts: dict = {}


def noise_allows_adjoint(model) -> bool:
    """Whether the reversed circuit under ``model`` applies the adjoint channels (see the module docstring).

    Every quantum error must be depolarising on exactly the qubits of its gate, a gate and the name of its
    inverse must carry the same errors, and there must be no readout error or custom noise pass. What this
    cannot read (a future ``NoiseModel`` layout) counts as not allowed.
    """
    if model is None:
        return True
    try:
        errors = [(name, None, e) for name, e in model._default_quantum_errors.items()]
        errors += [
            (name, q, e) for name, local in model._local_quantum_errors.items() for q, e in local.items()
        ]
        others = bool(
            model._default_readout_error or model._local_readout_errors or model._custom_noise_passes
        )
    except AttributeError:
        return False
    key = (others,) + tuple((name, q, id(e)) for name, q, e in errors)
    if key not in _verdicts:
        if len(_verdicts) > 64:
            _verdicts.clear()
        _verdicts[key] = (errors, not others and _depolarising_throughout(errors))
    return _verdicts[key][1]


def _depolarising_throughout(errors) -> bool:
    """Every ``(gate name, qubits or None, error)`` depolarising on its gate's width, inverse names alike."""
    gates = get_standard_gate_name_mapping()
    strengths: dict = {}
    for name, qubits, error in errors:
        if name not in gates:
            return False
        width = gates[name].num_qubits
        if error.num_qubits != width or (qubits is not None and len(qubits) != width):
            return False
        strength = _depolarising_strength(error)
        if strength is None:
            return False
        strengths.setdefault(name, {})[qubits] = strength
    return all(_same(strengths.get(a, {}), strengths.get(b, {})) for a, b in _INVERSE_NAMES)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= _TOL for k in a)


def _depolarising_strength(error) -> float | None:
    """``l`` when the error's Pauli transfer matrix is ``diag(1, l, ..., l)``, else ``None``."""
    ptm = PTM(error.to_quantumchannel()).data
    diag = np.real(np.diag(ptm))
    off = ptm - np.diag(np.diag(ptm))
    if np.abs(off).max(initial=0.0) > _TOL or np.abs(np.imag(np.diag(ptm))).max() > _TOL:
        return None
    if abs(diag[0] - 1) > _TOL or np.ptp(diag[1:]) > _TOL:
        return None
    return float(diag[1])


# ------------------------------------------------------------------------------------------ circuits
class _InitialDensity(Instruction):
    """Aer's ``set_density_matrix`` without its eigenvalue check (``O + c I`` is positive by construction,
    and the check, an ``eigvalsh`` per circuit, cost more than assembling the circuit)."""

    _directive = True

    def __init__(self, matrix: np.ndarray, n_qubits: int):
        super().__init__("set_density_matrix", n_qubits, 0, [matrix])


def forward_circuit(structure, saved: tuple[int, ...]) -> QuantumCircuit:
    """The circuit saving ``r{i}`` after each rotation ``i`` in ``saved`` (and its noise), then the measured
    words as :meth:`Structure.exact_circuit` does (``e{j}``)."""
    key = ("density_adjoint", "forward", saved)
    if key not in structure.circuits:
        qc = QuantumCircuit(structure.n_wires)
        for i in range(len(structure.gates)):
            structure.append_gate(qc, i)
            if i in saved:
                qc.save_density_matrix(label=f"r{i}")
        for j, word in enumerate(structure.words):
            if word:
                qc.save_expectation_value(pauli_of(word, structure.n_wires), qc.qubits, label=f"e{j}")
        structure.circuits[key] = qc
    return structure.circuits[key]


def reversed_circuit(structure, saved: tuple[int, ...]) -> QuantumCircuit:
    """Inverse gates in reverse order, saving ``b{i}`` (the observable just after rotation ``i``) before each
    rotation in ``saved`` is undone. Its first instruction is a placeholder initial state.

    Its rotations take the parameters as they are and are bound to the negated angles: Aer binds an
    expression such as ``-t`` in Python, once per row and gate.
    """
    key = ("density_adjoint", "reversed", saved)
    if key not in structure.circuits:
        n = structure.n_wires
        qc = QuantumCircuit(n)
        qc.append(_InitialDensity(np.eye(2**n) / 2**n, n), qc.qubits)
        first = min(saved)
        for i in reversed(range(first, len(structure.gates))):
            if i in saved:
                qc.save_density_matrix(label=f"b{i}")
            structure.append_gate(qc, i, inverse=structure.gates[i].slot is None)
        structure.circuits[key] = qc
    return structure.circuits[key]


def _starting_at(template: QuantumCircuit, matrix: np.ndarray) -> QuantumCircuit:
    qc = template.copy()
    qc.data[0] = CircuitInstruction(_InitialDensity(matrix, qc.num_qubits), qc.qubits)
    return qc


def _binds(structure, qvals: np.ndarray) -> dict:
    return {structure.params[j]: qvals[:, j].tolist() for j in range(structure.n_gate_params)}


def pauli_matrix(word, n: int) -> np.ndarray:
    """The ``2**n`` matrix of a Pauli word, PennyLane ordering (rows of the identity as statevectors)."""
    d = 2**n
    return apply_pauli_word(np.eye(d, dtype=complex).reshape((d,) + (2,) * n), word).reshape(d, d).T


def word_left(generator, mats: np.ndarray, n: int) -> np.ndarray:
    """``Q X`` for a stack of matrices ``X`` ``(batch, 2**n, 2**n)``, C-contiguous, where the generator is
    ``G = coeff * Q`` (``Q``: its Pauli word times the projector onto its controls' ``|1>``)."""
    batch, d = mats.shape[0], 2**n
    out = apply_pauli_word(mats.reshape((batch,) + (2,) * n + (d,)), generator.word)
    if generator.ctrl:
        mask = np.zeros((2,) * n)
        index = [slice(None)] * n
        for w in generator.ctrl:
            index[w] = 1
        mask[tuple(index)] = 1.0
        out = out * mask[None, ..., None]
    return np.ascontiguousarray(out.reshape(batch, d, d))


def _conjugates(raw: dict, prefix: str, saved) -> list[np.ndarray]:
    """The matrices one experiment saved, conjugated: the transpose of a Hermitian matrix is its conjugate,
    and as Aer returns them column-major, a C-contiguous view of each (no copy)."""
    return [raw[f"{prefix}{i}"].data.T for i in saved]


# ------------------------------------------------------------------------------------ forward states
def saved_rotations(structure, tapes) -> tuple[int, ...]:
    """Gate indices of the rotations driven by a trainable parameter of any of ``tapes``."""
    slots = set().union(*(tape.trainable_params for tape in tapes))
    return tuple(i for i, g in enumerate(structure.gates) if g.slot is not None and g.slot in slots)


def _state_key(key, row: np.ndarray) -> tuple:
    return ("density", key, row.tobytes())


def keep_matrices(runner: AerRunner, key, structure, qvals: np.ndarray, tapes) -> list | None:
    """Run rows keeping the forward matrices at their trainable rotations in ``runner.forward_states`` for
    the adjoint gradient that follows; ``None`` when they do not fit its budget (see
    :func:`.exact.execute_exact`)."""
    saved = saved_rotations(structure, tapes)
    size = len(qvals) * len(saved) * 16 * 4**structure.n_wires
    if not saved or size > runner.memory.forward_states:
        return None
    raws = runner.run_rows(forward_circuit(structure, saved), structure, qvals)
    for row, raw in zip(qvals, raws, strict=True):
        runner.forward_states[_state_key(key, row)] = (saved, _conjugates(raw, "r", saved))
    return raws


# ------------------------------------------------------------------------------------------ gradients
def adjoint(runner: AerRunner, tapes, cotangents, fallback) -> list:
    """Adjoint derivatives of tapes on the density matrix (the contract of :func:`.adjoint.adjoint`).

    With ``cotangents`` (one per tape) returns VJPs; without, jacobians ``[measurement][trainable]``.
    ``fallback(i)`` computes tape ``i``'s result another way when its saved matrices do not fit in memory.
    """
    out: list = [None] * len(tapes)
    budget = runner.memory.adjoint
    for key, (structure, members) in runner.group(tapes).items():
        slots = [trainable_slots(tapes[i], structure) for i, _ in members]  # refuses trainable coefficients
        saved = saved_rotations(structure, [tapes[i] for i, _ in members])
        params, row_datas, slices = flatten(members)
        qvals = structure.gate_values(params)
        n_meas = len(structure.meas)
        weights = None if cotangents is None else cotangent_weights(cotangents, members, n_meas)
        coeffs = observable_coefficients(structure, row_datas, weights)
        grads = np.zeros(coeffs.shape[:2] + (structure.n_params,))
        if saved:
            # Per row: its forward matrices and its reversed runs', twice while Aer hands its results over.
            plan = _plan(coeffs)
            row_bytes = 2 * len(saved) * 16 * 4**structure.n_wires * (1 + plan.max_per_row)
            if row_bytes > budget:
                for i, _ in members:
                    out[i] = fallback(i)
                continue
            for block in runner.chunks(structure, len(qvals), row_bytes, budget):
                for start in range(block.start, block.stop, MAX_BINDS_PER_JOB):
                    rows = slice(start, min(start + MAX_BINDS_PER_JOB, block.stop))
                    block_plan = _plan(coeffs[:, rows], plan.kind)
                    grads[:, rows] = _block(
                        runner, key, structure, saved, qvals[rows], block_plan, len(coeffs)
                    )
        for (i, data), rows, tape_slots in zip(members, slices, slots, strict=True):
            out[i] = tape_result(grads[:, rows], data, tape_slots, weights is not None)
    return out


def observable_coefficients(structure, row_datas, weights) -> np.ndarray:
    """Coefficients ``(vectors, rows, words)`` over ``structure.words`` of the observables to carry back.

    Without ``weights`` every measurement is a vector (a jacobian); with them (``(rows, measurements)``, a
    VJP's cotangents) each row carries ``sum_m w_rm O_m``. The identity word is dropped: it is carried
    unchanged and has no derivative.
    """
    per = np.zeros((len(structure.meas), len(row_datas), len(structure.words)))
    for m, spec in enumerate(structure.meas):
        cols = [structure.word_index[w] for w in spec.words]
        values = np.array([np.real(np.asarray(d.coeffs[m], dtype=complex)) for d in row_datas])
        np.add.at(per[m], (slice(None), cols), values)
    if () in structure.word_index:
        per[:, :, structure.word_index[()]] = 0.0
    return per if weights is None else np.einsum("rm,mrw->rw", weights, per)[None]


@dataclass
class _Plan:
    """The reversed runs of a block of rows: one circuit per *start* observable, run for some rows.

    Experiment ``e`` runs start ``start_of[e]`` (coefficients over the words) at row ``rows[e]``; the
    gradient of vector ``v`` at row ``r`` is the sum over the experiments at ``r`` of ``weights[v, e]``
    times experiment ``e``'s gradient (the reversed run is linear in its starting matrix).
    """

    kind: str
    starts: np.ndarray  # (starts, words)
    start_of: np.ndarray  # (experiments,)
    rows: np.ndarray  # (experiments,)
    weights: np.ndarray  # (vectors, experiments)

    @property
    def cost(self) -> int:
        """Aer's cost in experiments: about one per experiment, and as much again per distinct circuit
        (measured: 1.1 ms and 1.2 ms at 4 qubits, 3 ms and 2 ms at 6)."""
        return len(self.rows) + len(self.starts)

    @property
    def max_per_row(self) -> int:
        return int(np.bincount(self.rows).max()) if len(self.rows) else 0


def _plan(coeffs: np.ndarray, kind: str | None = None) -> _Plan:
    """How to carry the observables ``coeffs`` ``(vectors, rows, words)`` back: the cheaper of
    :func:`_per_distinct` and :func:`_per_word`, or the ``kind`` named (a block of rows follows the plan
    of its whole group, whose memory was budgeted for it)."""
    plans = {"distinct": _per_distinct(coeffs), "word": _per_word(coeffs)}
    return plans[kind] if kind else min(plans.values(), key=lambda p: p.cost)


def _per_distinct(coeffs: np.ndarray) -> _Plan:
    """One circuit per distinct coefficient vector, run at the rows that carry it: a VJP's weighted sum is
    one experiment a row, and identical cotangents (``out.sum()``) make one circuit for all rows."""
    n_vec, n_rows, n_words = coeffs.shape
    live = np.flatnonzero(np.any(coeffs != 0, axis=2).reshape(-1))
    uniq, inverse = np.unique(coeffs.reshape(-1, n_words)[live], axis=0, return_inverse=True)
    which = np.full(n_vec * n_rows, -1)
    which[live] = inverse.reshape(-1)
    pairs = np.unique(which[live] * n_rows + live % n_rows)  # (start, row), start-major
    start_of, rows = pairs // n_rows, pairs % n_rows
    weights = (which.reshape(n_vec, n_rows)[:, rows] == start_of).astype(float)
    return _Plan("distinct", uniq, start_of, rows, weights)


def _per_word(coeffs: np.ndarray) -> _Plan:
    """One circuit per measured word, run at every row whose observables hold it: fewest circuits (one
    output with per-sample cotangents, or Hamiltonians whose coefficients differ between tapes)."""
    n_words = coeffs.shape[2]
    word_rows = [np.flatnonzero(np.any(coeffs[:, :, w] != 0, axis=0)) for w in range(n_words)]
    words = np.array([w for w in range(n_words) if len(word_rows[w])], dtype=int)
    start_of = np.repeat(np.arange(len(words)), [len(word_rows[w]) for w in words])
    rows = np.concatenate([word_rows[w] for w in words] + [np.zeros(0, dtype=int)])
    return _Plan("word", np.eye(n_words)[words], start_of, rows, coeffs[:, rows, words[start_of]])


def _start_matrices(structure, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valid density matrices ``(O + c I) / N`` of the starts ``O = sum_w c_w P_w``, and their ``N``."""
    n = structure.n_wires
    d = 2**n
    cols = np.flatnonzero(np.any(starts != 0, axis=0))
    paulis = np.stack([pauli_matrix(structure.words[w], n) for w in cols])
    shift = np.abs(starts).sum(axis=1)  # >= -lambda_min(O)
    obs = np.einsum("sw,wab->sab", starts[:, cols], paulis) + shift[:, None, None] * np.eye(d)
    norms = shift * d
    return obs / norms[:, None, None], norms


def _block(
    runner: AerRunner, key, structure, saved, qvals: np.ndarray, plan: _Plan, n_vec: int
) -> np.ndarray:
    """Gradients ``(vectors, rows, n_params)`` of one block of rows: one Aer job of the forward circuit
    (rows whose matrices were not kept) and the reversed circuits of ``plan``."""
    if not len(plan.rows):
        return np.zeros((n_vec, len(qvals), structure.n_params))
    kept = [runner.forward_states.get(_state_key(key, row), (None, None)) for row in qvals]
    fwd = [states if at == saved else None for at, states in kept]
    missing = [r for r, states in enumerate(fwd) if states is None]
    circuits, binds = [], []
    if missing:
        circuits.append(forward_circuit(structure, saved))
        binds.append(_binds(structure, qvals[missing]))
    matrices, norms = _start_matrices(structure, plan.starts)
    template = reversed_circuit(structure, saved)
    for s, matrix in enumerate(matrices):
        circuits.append(_starting_at(template, matrix))
        binds.append(_binds(structure, -qvals[plan.rows[plan.start_of == s]]))
    raws = runner.run(circuits, binds, rows=len(missing) + len(plan.rows))
    for r, raw in zip(missing, raws[: len(missing)], strict=True):
        fwd[r] = _conjugates(raw, "r", saved)
    back = [_conjugates(raw, "b", saved) for raw in raws[len(missing) :]]
    return _gradients(structure, saved, fwd, back, norms[plan.start_of], plan, n_vec)


def _gradients(structure, saved, fwd, back, norms, plan: _Plan, n_vec: int) -> np.ndarray:
    """Gradients ``(vectors, rows, n_params)`` from the conjugated saved matrices: ``fwd[row][k]``
    (``conj(rho_k)``) and ``back[experiment][k]`` (``conj(B_k)``).

    With ``G = coeff * Q`` and ``conj(Q) = s Q`` (``s = (-1)^(Y letters)``), ``Tr(B Q rho) = vdot(B, Q rho)
    = s conj(vdot(conj(B), Q conj(rho)))``, so each derivative ``2 N coeff Im Tr(B Q rho)`` is
    ``-2 N coeff s Im vdot(conj(B), Q conj(rho))``; a tape parameter gets ``scale`` times each of its
    gates', and the vectors combine the experiments by ``plan.weights``.
    """
    per_exp = np.zeros((len(plan.rows), structure.n_params))
    for k, i in enumerate(saved):
        gate = structure.gates[i]
        left = word_left(gate.generator, np.stack([f[k] for f in fwd]), structure.n_wires)
        overlap = np.array([np.vdot(b[k], left[r]) for b, r in zip(back, plan.rows, strict=True)])
        sign = (-1) ** sum(p == "Y" for _, p in gate.generator.word)
        per_exp[:, gate.slot] += -2 * gate.scale * gate.generator.coeff * sign * norms * overlap.imag
    grads = np.zeros((n_vec, len(fwd), structure.n_params))
    np.add.at(grads, (slice(None), plan.rows), plan.weights[:, :, None] * per_exp[None])
    return grads
