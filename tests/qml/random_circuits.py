"""Random circuits and observables shared by the device tests (imported via tests/qml/conftest.py)."""

import numpy as np
import pennylane as qp

# Every gate type the Aer device runs, with its number of parameters and wires.
GATES = [
    (qp.RX, 1, 1), (qp.RY, 1, 1), (qp.RZ, 1, 1), (qp.PhaseShift, 1, 1), (qp.Rot, 3, 1),
    (qp.Hadamard, 0, 1), (qp.S, 0, 1), (qp.T, 0, 1), (qp.SX, 0, 1), (qp.PauliX, 0, 1), (qp.PauliY, 0, 1),
    (qp.PauliZ, 0, 1), (qp.CNOT, 0, 2), (qp.CZ, 0, 2), (qp.CY, 0, 2), (qp.SWAP, 0, 2), (qp.IsingXX, 1, 2),
    (qp.IsingYY, 1, 2), (qp.IsingZZ, 1, 2), (qp.CRX, 1, 2), (qp.CRY, 1, 2), (qp.CRZ, 1, 2),
    (qp.ControlledPhaseShift, 1, 2), (qp.MultiRZ, 1, 3), (qp.Toffoli, 0, 3), (qp.CSWAP, 0, 3), (qp.U3, 3, 1),
]  # fmt: skip


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
