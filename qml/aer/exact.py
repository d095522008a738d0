"""Exact (analytic) results: expectation values, variances, probabilities and states of batches of rows.

Every row of a structure runs in one Aer call: on the exact statevector at small widths as one *joint*
experiment (:mod:`.joint`), elsewhere as parameter sets of the structure's circuit with a save instruction
per measured quantity.
"""

from __future__ import annotations

import numpy as np

from . import general
from .compile import TapeData
from .joint import JointCircuitBuilder
from .paulis import apply_pauli_word, is_z_word, z_signs
from .runner import AerRunner, flatten

# Plain forward values use joint runs only up to this width: beyond it one experiment per row is already
# large enough to hide Aer's per-experiment cost, and separate small states stay in cache (measured at 12
# qubits: 1160 parameter-shift rows took 1.3 s as parameter sets against 4.5 s as one joint state).
JOINT_VALUES_MAX_WIRES = 10


def row_values(structure, raw: dict, data: TapeData, linear: bool = False) -> list:
    """Measurement values of one row of an exact run, from what its circuit saved.

    With ``linear`` a variance comes back as ``[<O>, <O^2>]``: both are linear in the state, so shift
    rules apply to them (not to the variance itself).
    """
    index = structure.word_index

    def expectation(words, coeffs):
        vals = np.array([float(raw[f"e{index[w]}"]) if w else 1.0 for w in words])
        return float(np.real(np.dot(coeffs, vals)))

    out = []
    for j, (m, c) in enumerate(zip(structure.meas, data.coeffs, strict=True)):
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
            if structure.global_phase_params and state.ndim == 1:  # a density matrix has no global phase
                phase = sum(data.params[0, p] for p in structure.global_phase_params)
                state = state * np.exp(-1j * phase)
            out.append(state if m.kind == "state" else general.read(c, state, structure.n_wires, linear))
    return out


def exact_rows(runner: AerRunner, structure, qvals: np.ndarray, datas: list[TapeData], linear=False) -> list:
    """Measurement values for each row of gate angles; ``datas[i]`` holds row ``i``'s coefficients."""
    if runner.joint and structure.n_wires <= JOINT_VALUES_MAX_WIRES:
        raws = raws_from_states(structure, joint_states(runner, structure, qvals))
    else:
        raws = runner.run_rows(structure.exact_circuit(runner.method), structure, qvals)
    return [row_values(structure, raw, d, linear) for raw, d in zip(raws, datas, strict=True)]


def joint_states(runner: AerRunner, structure, qvals: np.ndarray) -> np.ndarray:
    """Final states ``(rows, 2**n)`` of every row, from joint experiments (one per chunk of rows)."""
    states = []
    for rows in runner.chunks(
        structure, len(qvals), 3 * 16 * 2**structure.n_wires, runner.memory.joint_budget()
    ):
        builder = JointCircuitBuilder(structure, qvals[rows])
        (data,) = runner.run_programs([builder.forward()], rows=rows.stop - rows.start)
        states.append(builder.split(data["psi"]))
    return np.vstack(states)


def raws_from_states(structure, states: np.ndarray) -> list[dict]:
    """What the exact circuit would have saved (``e{i}``, ``p{j}``, ``s{j}``), from row states."""
    n = structure.n_wires
    tensor = states.reshape((len(states),) + (2,) * n)
    expvals = np.empty((len(states), len(structure.words)))
    probabilities = None
    for i, word in enumerate(structure.words):
        if not word:
            continue
        if is_z_word(word):  # diagonal: <Z_S> = sum_b |psi_b|^2 (-1)^(bits of S in b)
            if probabilities is None:
                probabilities = states.real**2 + states.imag**2
            expvals[:, i] = probabilities @ z_signs(n, tuple(w for w, _ in word)).astype(float)
        else:
            applied = apply_pauli_word(tensor, word).reshape(len(states), -1)
            expvals[:, i] = np.real(np.einsum("bi,bi->b", states.conj(), applied))
    probs = {}
    for j, m in enumerate(structure.meas):
        if m.kind == "probs":
            probs[j] = marginal_probs(np.abs(tensor) ** 2, m.wires)
    raws = []
    for r in range(len(states)):
        raw = {f"e{i}": expvals[r, i] for i, w in enumerate(structure.words) if w}
        for j, m in enumerate(structure.meas):
            if m.kind == "probs":
                raw[f"p{j}"] = probs[j][r]
            elif m.kind in ("state", "general"):
                raw[f"s{j}"] = states[r]
        raws.append(raw)
    return raws


def marginal_probs(full: np.ndarray, wires) -> np.ndarray:
    """Marginal probabilities ``(rows, 2**len(wires))`` of ``wires`` (in that order) from ``(rows, 2, 2, ...)``."""
    n = full.ndim - 1
    others = tuple(1 + w for w in range(n) if w not in wires)
    marginal = full.sum(axis=others) if others else full
    # the remaining axes are in wire order; put them in the order the measurement asks for
    kept = sorted(wires)
    marginal = np.transpose(marginal, [0] + [1 + kept.index(w) for w in wires])
    return marginal.reshape(len(full), -1)


def assemble(data: TapeData, row_vals: list):
    """A tape's result from its rows' values: broadcast tapes stack rows along a leading axis."""
    if data.batch_size is None:
        vals = row_vals[0]
    else:
        vals = [np.stack([rv[m] for rv in row_vals]) for m in range(len(row_vals[0]))]
    return vals[0] if len(vals) == 1 else tuple(vals)


def execute_exact(runner: AerRunner, tapes, keeper=None) -> list:
    """Exact results of tapes without shots, one Aer call per structure.

    ``keeper(runner, key, structure, qvals, tapes)`` runs a structure's rows itself when the gradient that
    follows wants their states kept (:func:`keep_final_states`, or the density matrices of
    :func:`.density_adjoint.keep_matrices`): it returns what the exact circuit would have saved per row, or
    ``None`` (the states do not fit its budget) to run them here.
    """
    results: list = [None] * len(tapes)
    for key, (structure, members) in runner.group(tapes).items():
        params, datas, slices = flatten(members)
        qvals = structure.gate_values(params)
        raws = keeper(runner, key, structure, qvals, [tapes[i] for i, _ in members]) if keeper else None
        if raws is not None:
            values = [row_values(structure, raw, d) for raw, d in zip(raws, datas, strict=True)]
        else:
            values = exact_rows(runner, structure, qvals, datas)
        for (i, data), rows in zip(members, slices, strict=True):
            results[i] = assemble(data, values[rows])
    return results


def keep_final_states(runner: AerRunner, key, structure, qvals: np.ndarray, tapes) -> list[dict] | None:
    """Run rows as joint experiments and keep their final states for :func:`.adjoint.adjoint`."""
    if len(qvals) * 16 * 2**structure.n_wires > runner.memory.forward_states:
        return None
    psi = joint_states(runner, structure, qvals)
    for row, state in zip(qvals, psi, strict=True):
        runner.forward_states[(key, row.tobytes())] = state
    return raws_from_states(structure, psi)
