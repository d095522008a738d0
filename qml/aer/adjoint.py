"""Adjoint derivatives on the exact statevector, from Aer snapshots.

One joint forward experiment (:mod:`.joint`) gives every row's final state ``psi`` (or the forward pass of
the same call kept it). One joint reversed experiment, started with ``set_statevector`` from the
cotangent-weighted observables applied to the final states, carries each row's state and its
back-propagated vector ``lambda`` side by side; each derivative is ``2 Im <lambda_k| G_k |psi_k>`` for the
gate's generator ``G_k``. A training step (forward, then vector-Jacobian product) is two Aer experiments
whatever the batch size.
"""

from __future__ import annotations

import numpy as np

from . import frames
from .exact import joint_states
from .joint import JointCircuitBuilder
from .layers import layer_of, reversed_layers
from .param_shift import cotangent_weights, tape_result, trainable_slots
from .paulis import apply_pauli_word, is_z_word, single_z_diagonal, z_signs
from .runner import AerRunner, flatten


def _row_bytes(structure, n_snapshots: int) -> int:
    """Bytes one row of the adjoint holds: its paired snapshots, plus the working states (the paired state,
    its copy on return, the forward state)."""
    return (n_snapshots + 3) * 2**structure.n_wires * 16 * 2


def plan_layers(structure, trainable: set, summable, budget: int) -> tuple[set, set, int] | None:
    """Which rotations the reversed pass measures in Aer (``summed``) and which from snapshots (``saved``),
    and the bytes a row then holds; ``None`` when not even the leanest plan fits ``budget``.

    Rotations shared by all rows (``summable`` names the broadcast parameters of a single tape) are
    measured in place, ``<Y_flag ⊗ G>``, holding O(1) states; the others are read from one snapshot per
    layer (:func:`.layers.reversed_layers`) that serves every rotation of the layer. Snapshots for every
    rotation were within 20 % of this in time (measured, interleaved: QuantumLayer 8 x 32, 12 x 8, 12 x 32,
    16 x 8 and QAOA at 16 qubits; faster for two of the five) but held a snapshot per layer and row: a
    20-qubit x 8 step peaked at 2.3 GB against 1.2 GB in place.
    """
    needed = [i for i, g in enumerate(structure.gates) if g.slot in trainable]
    layer = layer_of(structure, frozenset(needed))
    varying = set(needed) if summable is None else {i for i in needed if structure.gates[i].slot in summable}
    row_bytes = _row_bytes(structure, len({layer[i] for i in varying}))
    if row_bytes > budget:
        return None
    return set(needed) - varying, varying, row_bytes


def adjoint(runner: AerRunner, tapes, cotangents, fallback) -> list:
    """Adjoint derivatives of tapes.

    With ``cotangents`` (one per tape) returns VJPs; without, jacobians ``[measurement][trainable]``.
    ``fallback(i)`` computes tape ``i``'s result another way when its saved states do not fit in memory.
    """
    out: list = [None] * len(tapes)
    for key, (structure, members) in runner.group(tapes).items():
        # A VJP of a single tape sums every shared parameter's derivative over the rows, which Aer does
        # itself (an expectation value); only row-dependent rotations need saved states. A single tape of
        # one row (an optimiser's energy, say) is that sum whether a VJP or a jacobian is asked for.
        single = len(members) == 1 and (cotangents is not None or members[0][1].rows == 1)
        summable = members[0][1].broadcast if single else None
        # only rotations some member trains need a derivative (inputs of a layer usually are not trained)
        trainable = {s for i, _ in members for s in trainable_slots(tapes[i], structure)}
        plan = plan_layers(structure, trainable, summable, runner.memory.adjoint)
        if plan is None:
            for i, _ in members:
                out[i] = fallback(i)
            continue
        summed, saved, row_bytes = plan
        params, row_datas, slices = flatten(members)
        qvals = structure.gate_values(params)
        n_meas = len(structure.meas)
        weights = None if cotangents is None else cotangent_weights(cotangents, members, n_meas)
        grads = np.zeros((1 if weights is not None else n_meas, len(qvals), structure.n_params))
        # Rows per reversed experiment: within the adjoint budget, and within the joint budget so a wide
        # circuit's paired register (and the copies Aer makes of it) stays a small multiple of one state.
        budget = min(runner.memory.adjoint, runner.memory.joint_budget())
        for rows in runner.chunks(structure, len(qvals), row_bytes, budget):
            grads[:, rows] = _block(
                runner,
                key,
                structure,
                qvals[rows],
                row_datas[rows],
                None if weights is None else weights[rows],
                summed,
                saved,
            )
        for (i, data), rows in zip(members, slices, strict=True):
            out[i] = tape_result(
                grads[:, rows], data, trainable_slots(tapes[i], structure), weights is not None
            )
    return out


def _forward(runner: AerRunner, key, structure, qvals: np.ndarray) -> np.ndarray:
    """Final states ``(rows, 2**n)``: kept by this call's forward pass, or run now."""
    psi = [runner.forward_states.get((key, row.tobytes())) for row in qvals]
    missing = [r for r, state in enumerate(psi) if state is None]
    if missing:
        for r, state in zip(missing, joint_states(runner, structure, qvals[missing]), strict=True):
            psi[r] = state
    return np.stack(psi)


def _block(runner: AerRunner, key, structure, qvals, row_datas, weights, summed, saved) -> np.ndarray:
    """Gradients ``(vectors, rows, n_params)`` of one block of rows by the adjoint method.

    Derivatives are computed for the rotations in ``summed`` and ``saved`` only (see :func:`plan_layers`;
    others stay 0). ``weights`` ``(rows, measurements)`` are the cotangents of a VJP (one back-propagated
    vector per row); without them every measurement gets its own vector (a jacobian). The reversed
    experiment carries each row's state and its back-propagated vector side by side (flag qubit). A
    rotation in ``summed`` (shared by all rows, not broadcast) gets its derivative summed over rows by Aer
    itself, as the expectation value of ``Y_flag ⊗ G``; it is put in row 0. The others are read from the
    snapshot of their layer.
    """
    psi = _forward(runner, key, structure, qvals)
    n_vectors = 1 if weights is not None else len(structure.meas)
    # defensive: a summed rotation must be shared by all rows; one whose angle varies is read per row
    moved = {
        i for i in summed if np.any(qvals[:, structure.param_index(i)] != qvals[0, structure.param_index(i)])
    }
    summed, saved = summed - moved, saved | moved
    grads = np.zeros((n_vectors, len(qvals), structure.n_params))
    steps = frames.plan(structure, frozenset(summed | saved))
    if steps is not None:  # every layer diagonal in one Pauli frame (QAOA): the pass runs in numpy
        for v in range(n_vectors):
            lam = _back_vector(structure, row_datas, psi, weights, v)
            if np.any(lam):
                grads[v] = frames.reverse(structure, steps, qvals, psi, lam, summed | saved, summed)
        return grads
    builder = JointCircuitBuilder(structure, qvals, pair=True)
    # Reversed experiments go to Aer a few at a time, so that their paired states and snapshots fit the
    # joint budget (a jacobian has one per measurement; at 20 qubits x 8 rows a paired state is 256 MB).
    layer = layer_of(structure, frozenset(summed | saved))
    per_circuit = (1 + len({layer[i] for i in saved})) * 2 * 16 * 2**builder.n_qubits
    per_job = max(1, runner.memory.joint_budget() // per_circuit)
    vectors = list(range(n_vectors))
    for start in range(0, n_vectors, per_job):
        circuits, norms = [], []
        for v in vectors[start : start + per_job]:
            lam = _back_vector(structure, row_datas, psi, weights, v)
            if not np.any(lam):
                continue  # a zero cotangent: no derivative
            joint = builder.join_pair(psi, lam)
            del lam
            real = joint.view(
                np.float64
            )  # contiguous: np.linalg.norm of a complex array is several times slower
            norm = float(np.sqrt(real @ real))
            joint /= norm
            circuits.append(builder.reverse_pair(joint, summed, saved))
            norms.append((v, norm))
            del joint
        if circuits:
            # Aer's gate fusion (on from 14 qubits) slows the reversed experiment down: 1.92 -> 1.32 s at
            # 20 qubits x 2 rows, 0.38 -> 0.21 s at 16 x 8, 72 -> 41 ms at 12 x 32 (measured, qiskit-aer
            # 0.18.2, 2 cores); the forward experiments gain a few per cent from it and keep it.
            revs = runner.run_programs(circuits, rows=len(qvals) * len(circuits), fuse=False)
            for (v, norm), rev in zip(norms, revs, strict=True):
                _accumulate(grads[v], rev, structure, builder, summed, saved, norm)
    return grads


def _back_vector(structure, row_datas, psi, weights, v: int) -> np.ndarray:
    """The back-propagated vectors ``(rows, 2**n)`` of vector ``v``: ``sum_m w_rm O_m |psi_r>`` for a VJP,
    ``O_v |psi_r>`` for row ``v`` of a jacobian."""
    if weights is None:
        weights = np.zeros((len(psi), len(structure.meas)))
        weights[:, v] = 1.0
    return observables_apply(structure, row_datas, weights, psi)


def _accumulate(grads, rev: dict, structure, builder, summed, saved, norm: float) -> None:
    """Add one reversed experiment's derivatives to ``grads`` ``(rows, n_params)``."""
    measured_all = frozenset(summed | saved)
    layer = layer_of(structure, measured_all)
    for k, gates in enumerate(reversed_layers(structure, measured_all)):
        measured = [i for i in gates if i in summed]
        if not measured:
            continue
        for i, value in builder.layer_expectations(rev[f"P{k}"], measured).items():
            gate = structure.gates[i]
            # <Y_flag ⊗ G> = -2 sum_r Im <lambda_r|G|psi_r> / norm^2, and each derivative is 2 Im <..>
            grads[0, gate.slot] += gate.scale * -(norm**2) * value
    by_layer: dict[int, list[int]] = {}
    for i in saved:
        by_layer.setdefault(layer[i], []).append(i)
    for k, gates in by_layer.items():
        psi_k, lam_k = builder.split_pair(rev.pop(f"L{k}"))
        lam_conj = lam_k.conj()
        for i in gates:
            gate = structure.gates[i]
            overlap = gate.generator.overlaps(lam_conj, psi_k, structure.n_wires)
            grads[:, gate.slot] += gate.scale * 2 * norm**2 * np.imag(overlap)


def observables_apply(structure, datas, weights: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """``sum_m weights[r, m] O_m |psi_r>`` for every row ``r`` (``psi``: ``(rows, 2**n)``).

    Words of ``Z`` only (a QAOA cost, ``<Z_i>`` read-outs) are diagonal: their weighted sum is one real
    diagonal per row, applied in one product, where each other word costs a pass over the rows' states
    (measured: 24 ``ZZ`` words of a 16-qubit QAOA cost, 20 ms one by one).
    """
    n = structure.n_wires
    tensor = psi.reshape((len(psi),) + (2,) * n)
    out = np.zeros_like(psi)
    z_words, z_weights = [], []
    for m, spec in enumerate(structure.meas):
        if not np.any(weights[:, m]):
            continue
        coeffs = np.array([np.asarray(d.coeffs[m]) for d in datas])  # (rows, n_words)
        for w, word in enumerate(spec.words):
            c = weights[:, m] * coeffs[:, w]
            if is_z_word(word):
                z_words.append(tuple(wire for wire, _ in word))
                z_weights.append(c)
            else:
                out += c[:, None] * apply_pauli_word(tensor, word).reshape(len(psi), -1)
    if z_words:
        out += z_diagonal(n, z_words, np.stack(z_weights, axis=1)) * psi
    return out


def z_diagonal(n: int, words: list[tuple[int, ...]], weights: np.ndarray) -> np.ndarray:
    """``sum_j weights[r, j] Z_{words[j]}`` as diagonals ``(rows, 2**n)``, or ``(1, 2**n)`` when every row
    has the same weights (wire ``w`` is bit ``n - 1 - w`` of the basis index)."""
    if np.all(weights == weights[:1]):
        weights = weights[:1]
    rows = len(weights)
    singles: dict[int, np.ndarray] = {}
    diag = np.zeros((rows, 2**n))
    for j, wires in enumerate(words):
        if len(wires) == 1:  # one Z: built together (see single_z_diagonal)
            singles[wires[0]] = singles.get(wires[0], 0.0) + weights[:, j]
        elif wires:
            diag += weights[:, j, None] * z_signs(n, wires)
        else:  # the identity
            diag += weights[:, j, None]
    if singles:
        diag += single_z_diagonal(n, singles, rows)
    return diag
