"""Random circuits and observables shared by the device tests (imported via tests/qml/conftest.py)."""

import numpy as np
import pennylane as qp


def random_circuit(gates, n_wires: int, n_gates: int, seed: int):
    """A circuit function ``f(params)`` drawing from ``gates`` (``(op, n_params, n_wires)``), and the number
    of parameters it takes."""
    rng = np.random.default_rng(seed)
    plan, n_params = [], 0
    for _ in range(n_gates):
        gate, n_p, n_w = gates[rng.integers(len(gates))]
        wires = rng.choice(n_wires, size=n_w, replace=False).tolist()
        plan.append((gate, list(range(n_params, n_params + n_p)), wires))
        n_params += n_p

    def ops(params):
        for gate, idx, wires in plan:
            gate(*[params[i] for i in idx], wires=wires)

    return ops, n_params


def observables(n_wires: int) -> list:
    """A Pauli word, a product of two, and a Hamiltonian with an identity term, on ``n_wires >= 3`` wires."""
    return [
        qp.Z(0),
        qp.X(1) @ qp.Y(2),
        0.5 * qp.Z(0) @ qp.Z(n_wires - 1) - 1.3 * qp.X(2) + 0.2 * qp.Y(0) @ qp.X(1) @ qp.Z(2) + 0.7 * qp.I(0),
    ]
