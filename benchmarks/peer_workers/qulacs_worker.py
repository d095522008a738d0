"""qulacs (C++ state vector) in its own virtualenv: one ``ParametricQuantumCircuit``; per sample the inputs
are set as parameters, the values read after ``update_quantum_state`` and the weights' gradient taken by
``backprop`` of ``sum_i Z_i``. qulacs rotates by ``exp(+i t P / 2)``, so every angle is set negated and every
derivative negated back; its qubit ``i`` is wire ``i``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
from protocol import Unsupported, ring, serve  # noqa: E402
from qulacs import Observable, ParametricQuantumCircuit, QuantumState  # noqa: E402


def _observable(n, terms):
    obs = Observable(n)
    for coeff, wires in terms:
        obs.add_operator(coeff, " ".join(f"Z {i}" for i in wires))
    return obs


def build_layer(cell):
    n, x, w = cell["n"], np.asarray(cell["x"]), np.asarray(cell["w"])
    circuit = ParametricQuantumCircuit(n)
    for i in range(n):
        circuit.add_parametric_RX_gate(i, 0.0)
    for _ in range(w.shape[0]):
        for i in range(n):
            circuit.add_parametric_RZ_gate(i, 0.0)
            circuit.add_parametric_RY_gate(i, 0.0)
            circuit.add_parametric_RZ_gate(i, 0.0)
        for a, b in ring(n):
            circuit.add_CNOT_gate(a, b)
    for k, value in enumerate(w.ravel()):
        circuit.set_parameter(n + k, -value)
    singles = [_observable(n, [(1.0, [i])]) for i in range(n)]
    total = _observable(n, [(1.0, [i]) for i in range(n)])

    def step():
        values = np.empty((len(x), n))
        grad = np.zeros(w.size)
        for b, row in enumerate(x):
            for i in range(n):
                circuit.set_parameter(i, -row[i])
            state = QuantumState(n)
            circuit.update_quantum_state(state)
            values[b] = [o.get_expectation_value(state) for o in singles]
            grad -= np.array(circuit.backprop(total))[n:]
        return values, grad.reshape(w.shape)

    return step


def build_qaoa(cell):
    n, p, params = cell["n"], cell["p"], np.asarray(cell["params"])
    circuit = ParametricQuantumCircuit(n)
    for i in range(n):
        circuit.add_H_gate(i)
    slots = []  # (parameter index, angle index, factor): the gate angle is factor * params[angle index]
    for k in range(p):
        for i, j, coupling in cell["zz"]:
            slots.append((k, 2 * coupling))
            circuit.add_parametric_multi_Pauli_rotation_gate([i, j], [3, 3], 0.0)
        for i, h in cell["z"]:
            slots.append((k, 2 * h))
            circuit.add_parametric_RZ_gate(i, 0.0)
        for i in range(n):
            slots.append((p + k, 2.0))
            circuit.add_parametric_RX_gate(i, 0.0)
    obs = _observable(n, cell["terms"])

    def step():
        for g, (k, factor) in enumerate(slots):
            circuit.set_parameter(g, -factor * params[k])
        state = QuantumState(n)
        circuit.update_quantum_state(state)
        value = obs.get_expectation_value(state) + cell["const"]
        per_gate = -np.asarray(circuit.backprop(obs))
        grad = np.zeros(len(params))
        for g, (k, factor) in enumerate(slots):
            grad[k] += factor * per_gate[g]
        return np.array([value]), grad

    return step


def build(name, cell):
    if cell["regime"] in ("noise", "relax"):
        raise Unsupported("no density-matrix contender written for it")
    return build_qaoa(cell) if cell["regime"] == "qaoa" else build_layer(cell)


if __name__ == "__main__":
    serve(build)
