"""Derivatives by trainable observable coefficients: ``d <sum_k c_k T_k> / d c_k = <T_k>``.

A tape's parameters are its gates' parameters followed by its observables' data. The gradient paths
(adjoint, parameter shift) differentiate gate angles; a trainable coefficient of an expectation value is
split off here: its derivative is the expectation value of its term, and the terms of every tape are
measured in one more batched execution.
"""

from __future__ import annotations

import numpy as np
import pennylane as qp
from pennylane import measurements as qpm


def _n_gate_params(tape) -> int:
    return sum(op.num_params for op in tape.operations)


def coefficient_terms(tape) -> dict[int, tuple[int, object]]:
    """The tape's trainable parameters that belong to observables: parameter index -> (measurement, term).

    Raises:
        ValueError: a trainable observable parameter that is not the coefficient of an expectation value's
            term (a Hermitian matrix, a variance's coefficient).
    """
    first = _n_gate_params(tape)
    owner, start = {}, first
    for m, mp in enumerate(tape.measurements):
        size = len(mp.obs.data) if mp.obs is not None else 0
        for d in range(size):
            owner[start + d] = (m, d)
        start += size
    terms = {}
    for p in tape.trainable_params:
        if p < first:
            continue
        m, d = owner[p]
        mp = tape.measurements[m]
        term = _term(mp.obs, d) if isinstance(mp, qpm.ExpectationMP) else None
        if term is None:
            raise ValueError(
                f"cannot differentiate parameter {d} of the observable of {mp}: the Aer device "
                "differentiates gate angles and the coefficients of expectation values' terms"
            )
        terms[p] = (m, term)
    return terms


def _term(obs, d: int):
    """The operator whose expectation value is the derivative by ``obs.data[d]``, or ``None``."""
    if isinstance(obs, qp.ops.LinearCombination) and d < len(obs.coeffs):
        return obs.ops[d]
    if isinstance(obs, qp.ops.SProd) and d == 0:
        return obs.base
    return None


def gate_tape(tape):
    """The tape with only its gate parameters trainable."""
    first = _n_gate_params(tape)
    out = tape.copy()
    out.trainable_params = [p for p in tape.trainable_params if p < first]
    return out


def term_tape(tape, terms: dict):
    """A tape measuring the expectation value of every differentiated term (nothing trainable)."""
    out = qp.tape.QuantumScript(
        tape.operations, [qp.expval(term) for _, term in terms.values()], shots=tape.shots
    )
    out.trainable_params = []
    return out


def merge(tape, gate_jac: list, terms: dict, values, n_wires: int) -> list:
    """The tape's jacobian ``[measurement][trainable]`` from its gate jacobian and its terms' values.

    A coefficient's entry is its term's value for its own measurement and zeros (of each other
    measurement's shape, after the batch axis) for the rest.
    """
    values = [values] if len(terms) == 1 else list(values)
    by_param = dict(zip(terms, values, strict=True))
    n_meas = len(tape.measurements)
    gate_cols = iter(range(len(tape.trainable_params) - len(terms)))
    jac = [[] for _ in range(n_meas)]
    for p in tape.trainable_params:
        if p in by_param:
            m_of, _ = terms[p]
            value = np.asarray(by_param[p], dtype=float)
            for m, mp in enumerate(tape.measurements):
                shape = value.shape + mp.shape(None, n_wires)
                jac[m].append(value if m == m_of else np.zeros(shape))
        else:
            col = next(gate_cols)
            for m in range(n_meas):
                jac[m].append(gate_jac[m][col])
    return jac
