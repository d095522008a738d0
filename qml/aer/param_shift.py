"""Batched parameter shift: every shifted row of every tape of a structure in one Aer call.

Each rotation compiles to a gate whose generator has two eigenvalues, so every derivative is the exact
two-term rule ``df/dt = r [f(t + pi/4r) - f(t - pi/4r)]`` (controlled rotations are compiled to
single-qubit rotations first). A tape parameter that drives several gates sums their terms.
"""

from __future__ import annotations

import numpy as np
import pennylane as qp
from pennylane import measurements as qpm

from . import general
from .compile import TapeData, analyse_tape
from .exact import exact_rows
from .runner import AerRunner, flatten
from .sampling import sampled_results


class MixedVJP(tuple):
    """A VJP whose entries differ in shape: one value per sample for broadcast parameters, a scalar for
    shared ones. PennyLane's torch interface converts the entries one by one, but first asks
    ``np.squeeze(vjp).shape``, which a ragged tuple cannot answer; this answers it without converting."""

    def squeeze(self, axis=None):
        return np.empty(len(self))


def batched_entry(per_row: np.ndarray, broadcast: bool) -> np.ndarray:
    """A jacobian entry of a broadcast tape, laid out as the output's shape then the parameter's.

    ``per_row[b]`` is sample ``b``'s derivative. By a shared parameter that is the entry itself; by a
    broadcast one (shape ``(B,)``) only sample ``b``'s own element matters, so the entry is diagonal.
    """
    if not broadcast:
        return per_row
    batch = per_row.shape[0]
    full = np.zeros(per_row.shape + (batch,))
    index = np.arange(batch)
    full[index, ..., index] = per_row
    return full


def trainable_slots(tape, structure) -> list[int]:
    """The tape's trainable parameters, which must all be gate angles, of measurements shift rules apply to."""
    slots = list(tape.trainable_params)
    if slots:
        for mp in tape.measurements:
            if not general.differentiable(mp):
                raise ValueError(
                    f"cannot differentiate {mp} on the Aer device: gradients are taken of expectation "
                    "values, variances and probabilities"
                )
    if any(s in structure.channel_slots for s in slots):
        raise ValueError(
            "a channel's parameters are not differentiable on the Aer device; pass them as constants (the "
            "density engine, backend 'torch.density', refuses them too)"
        )
    if any(s >= structure.n_params for s in slots):
        raise ValueError(
            "trainable observable coefficients are not supported by the Aer device; pass the "
            "Hamiltonian's coefficients as constants"
        )
    return slots


def stack_jacobian(data: TapeData, slots: list[int], jac_rows: list) -> list:
    """A tape's jacobian ``[measurement][trainable]`` from its rows' (row ``b``'s derivative by a shared
    parameter, or by its own element of a broadcast one)."""
    if data.batch_size is None:
        return jac_rows[0]
    return [
        [
            batched_entry(np.stack([jr[m][t] for jr in jac_rows]), s in data.broadcast)
            for t, s in enumerate(slots)
        ]
        for m in range(len(jac_rows[0]))
    ]


def shift_plan(tape, structure, base: np.ndarray, rows: list, tag=None) -> list:
    """Append shifted rows ``(gate angles, tag)`` for each trainable tape parameter.

    ``base`` holds the unshifted gate angles. Returns, per trainable parameter, the ``(coefficient, row
    index)`` terms (none for a global phase, which no measured quantity depends on).
    """
    entries = []
    for slot in trainable_slots(tape, structure):
        terms = []
        for j, gate in structure.rotations_of.get(slot, []):
            for c, s in gate.generator.shift_rule():
                shifted = base.copy()
                shifted[j] += s
                rows.append((shifted, tag))
                terms.append((c * gate.scale, len(rows) - 1))
        entries.append(terms)
    return entries


def combine(tape, entries, values, meas=None, base_row=None) -> list:
    """Jacobian ``[measurement][trainable]`` from shifted results.

    A variance arrives as ``[<O>, <O^2>]`` per row: ``d var = d<O^2> - 2 <O> d<O>``.
    """
    n_meas = len(tape.measurements)
    jac = [[None] * len(entries) for _ in range(n_meas)]
    for t, terms in enumerate(entries):
        for m in range(n_meas):
            if not terms:
                jac[m][t] = np.float64(0.0)
                continue
            d = sum(c * np.asarray(values[r][m], dtype=float) for c, r in terms)
            if meas is not None and meas[m].kind == "var":
                d = np.float64(d[1] - 2 * values[base_row][m][0] * d[0])
            jac[m][t] = d
    return jac


def param_shift_exact(runner: AerRunner, tapes) -> list:
    """Jacobians ``[measurement][trainable]`` of tapes without shots."""
    jacs: list = [None] * len(tapes)
    for structure, members in runner.group(tapes).values():
        rows: list = []  # (shifted gate angles, index of the row it belongs to)
        plan = []
        has_var = any(m.kind == "var" for m in structure.meas)
        _, row_datas, _ = flatten(members)
        row = 0
        for i, data in members:
            per_row = []
            for base in structure.gate_values(data.params):
                base_row = None
                if has_var:  # the chain rule of a variance needs the unshifted mean
                    rows.append((base, row))
                    base_row = len(rows) - 1
                per_row.append((shift_plan(tapes[i], structure, base, rows, row), base_row))
                row += 1
            plan.append((i, data, per_row))
        values = []
        if rows:
            qvals = np.stack([r[0] for r in rows])
            values = exact_rows(runner, structure, qvals, [row_datas[r] for _, r in rows], linear=True)
        for i, data, per_row in plan:
            jac_rows = [
                combine(tapes[i], entries, values, structure.meas, base_row) for entries, base_row in per_row
            ]
            jacs[i] = stack_jacobian(data, trainable_slots(tapes[i], structure), jac_rows)
    return jacs


def param_shift_sampled(runner: AerRunner, tapes, device_name: str) -> list:
    """Jacobians of tapes with shots: the shifted rows of all tapes (every sample of a broadcast tape
    included) sampled in batched runs."""
    for tape in tapes:
        if any(isinstance(m, qpm.VarianceMP) for m in tape.measurements):
            raise ValueError(
                "gradients of variances are computed without shots only; differentiate expectation "
                "values, or drop shots"
            )
        if tape.shots.has_partitioned_shots:
            raise ValueError("gradients with a shot vector are not supported; give one shot count")
    plans, jobs = [], []
    for tape in tapes:
        key, data, build = analyse_tape(qp.tape.QuantumScript(tape.operations, []), runner.wire_index)
        structure = runner.cache.get(("sample",) + key, build)
        rows: list = []
        per_row = [shift_plan(tape, structure, base, rows) for base in structure.gate_values(data.params)]
        plans.append((data, structure, per_row))
        if rows:
            jobs.append((tape, np.stack([r[0] for r in rows])))
    results = iter(sampled_results(runner, jobs, device_name))
    jacs = []
    for tape, (data, structure, per_row) in zip(tapes, plans, strict=True):
        if not any(any(entries) for entries in per_row):
            jacs.append([[np.float64(0.0)] * len(tape.trainable_params) for _ in tape.measurements])
            continue
        values = [[r] if len(tape.measurements) == 1 else list(r) for r in next(results)]
        jac_rows = [combine(tape, entries, values) for entries in per_row]
        jacs.append(stack_jacobian(data, trainable_slots(tape, structure), jac_rows))
    return jacs


def contract(tape, jac, cotangent):
    """The VJP of one tape: ``sum_m <cotangent_m, jac[m][t]>`` for every trainable parameter ``t``.

    A broadcast parameter gets one value per sample (its own row's), any other the sum over rows.
    Without broadcast parameters the VJP is one array (not a tuple of scalars): PennyLane's torch
    interface then converts it once instead of once per parameter.
    """
    cot_list = [cotangent] if len(tape.measurements) == 1 else list(cotangent)
    if tape.batch_size is None:
        broadcast = [False] * len(tape.trainable_params)
    else:
        broadcast = [np.ndim(p) > 0 for p in tape.get_parameters(trainable_only=True)]
    out = []
    for t in range(len(tape.trainable_params)):
        # jac[m][t] has the measurement's shape followed by the parameter's: contract the former
        terms = sum(
            np.tensordot(np.asarray(c, dtype=float), np.asarray(jac[m][t], dtype=float), axes=np.ndim(c))
            for m, c in enumerate(cot_list)
        )
        out.append(terms if broadcast[t] else np.float64(terms))
    return MixedVJP(out) if any(broadcast) else np.array(out, dtype=float)


def cotangent_weights(cotangents, members, n_meas: int) -> np.ndarray:
    """One weight per (row, measurement): a broadcast tape's cotangents have one value per sample."""
    blocks = []
    for i, data in members:
        per_meas = [cotangents[i]] if n_meas == 1 else cotangents[i]
        stacked = np.stack([np.asarray(c, dtype=float).reshape(-1) for c in per_meas], axis=-1)
        blocks.append(np.broadcast_to(stacked, (data.rows, n_meas)))
    return np.vstack(blocks)


def tape_result(g: np.ndarray, data, slots, vjp: bool):
    """A tape's VJP or jacobian from its rows' gradients ``(vectors, rows, n_params)`` (layouts as PennyLane expects them)."""
    g = g[:, :, slots]
    if vjp:
        broadcast = [s in data.broadcast for s in slots]
        vals = [g[0, :, t] if b else np.float64(g[0, :, t].sum()) for t, b in enumerate(broadcast)]
        return MixedVJP(vals) if any(broadcast) else np.array(vals, dtype=float)
    if data.batch_size is None:
        return [[np.float64(v) for v in g[m, 0]] for m in range(g.shape[0])]
    return [
        [batched_entry(g[m, :, t], s in data.broadcast) for t, s in enumerate(slots)]
        for m in range(g.shape[0])
    ]
