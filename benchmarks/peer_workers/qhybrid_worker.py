"""qhybrid's contenders and PennyLane's own simulators, in qhybrid's virtualenv.

* ``torch``: ``QuantumLayer(backend="torch")``, qhybrid's fused statevector engine; QAOA through the same
  engine (:class:`qhybrid.qml.engine.CompiledCircuit` of the QAOA gates, energy from the ``<ZZ>`` words);
* ``aer``: ``QuantumLayer(backend="aer")``; QAOA as ``QAOA.solve`` builds it on the Aer device;
* ``default.qubit`` (backprop) and ``lightning.qubit`` (adjoint, one pass with the cotangents), torch QNodes.

Noise cells: ``torch`` is the density engine (``backend="torch.density"``), ``aer`` Aer's density matrix
(``aer.density``), both under the cell's Aer noise model; ``default.mixed`` (backprop) runs the same
channels written into the circuit (Qiskit's ``depolarizing_error(p)`` is PennyLane's
``DepolarizingChannel(3p/4)``; the two-qubit one a ``QubitChannel`` of its 16 Pauli terms; Aer's thermal
relaxation is ``ThermalRelaxationError`` on each qubit of the gate).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qhybrid import wait_passively  # noqa: E402

wait_passively()

import numpy as np  # noqa: E402
import pennylane as qp  # noqa: E402
import torch  # noqa: E402
from protocol import Unsupported, ring, serve, threads  # noqa: E402

from qhybrid.qml import QuantumLayer  # noqa: E402
from qhybrid.qml.engine import CompiledCircuit  # noqa: E402

torch.set_num_threads(threads())
PENNYLANE = {"default.qubit": "backprop", "lightning.qubit": "adjoint"}


def qaoa_gates(cell):
    def apply(params):
        p = cell["p"]
        for w in range(cell["n"]):
            qp.Hadamard(w)
        for k in range(p):
            gamma, beta = params[k], params[p + k]
            for i, j, coupling in cell["zz"]:
                qp.IsingZZ(2 * gamma * coupling, wires=[i, j])
            for i, h in cell["z"]:
                qp.RZ(2 * gamma * h, wires=i)
            for w in range(cell["n"]):
                qp.RX(2 * beta, wires=w)

    return apply


def _word(wires):
    return qp.prod(*[qp.Z(w) for w in wires]) if wires else qp.I(0)


def build_qaoa(name, cell):
    apply = qaoa_gates(cell)
    params = torch.tensor(cell["params"], dtype=torch.float64, requires_grad=True)
    if name == "torch":
        words = [t[1] for t in cell["terms"]]
        coeffs = torch.tensor([t[0] for t in cell["terms"]], dtype=torch.float64)

        def fn(x, w):
            apply(w)
            return [qp.expval(_word(ws)) for ws in words]

        circuit = CompiledCircuit(fn, cell["n"], 1, (len(cell["params"]),))
        zero = torch.zeros(1, 1, dtype=torch.float64)

        def energy(w):
            return (circuit(zero, w)[0] * coeffs).sum() + cell["const"]

    else:
        hamiltonian = qp.Hamiltonian([t[0] for t in cell["terms"]], [_word(t[1]) for t in cell["terms"]])
        device = {"aer": "qhybrid.aer"}.get(name, name)
        diff = {"aer": "device"}.get(name, PENNYLANE.get(name))

        @qp.qnode(qp.device(device, wires=cell["n"]), interface="torch", diff_method=diff)
        def qnode(w):
            apply(w)
            return qp.expval(hamiltonian)

        def energy(w):
            return qnode(w) + cell["const"]

    def step():
        params.grad = None
        value = energy(params)
        value.backward()
        return np.array([float(value)]), params.grad.numpy().copy()

    return step


def build_layer(name, cell):
    x = torch.tensor(cell["x"], dtype=torch.float64)
    w = torch.tensor(cell["w"], dtype=torch.float64)
    layers = w.shape[0]
    if name in ("torch", "aer"):
        layer = QuantumLayer(cell["n"], n_layers=layers, backend=name, seed=0)
        with torch.no_grad():
            layer.weights.copy_(w)
        device = cell.get("device", "cpu") if name == "torch" else "cpu"
        layer.to(device)
        x = x.to(device)
        weights, call = layer.weights, layer
    else:
        ours = QuantumLayer(cell["n"], n_layers=layers, backend="default", seed=0)
        diff = PENNYLANE[name]
        qnode = qp.QNode(
            ours.circuit, qp.device(name, wires=cell["n"]), interface="torch", diff_method=diff,
            device_vjp=diff == "adjoint",
        )  # fmt: skip
        weights = torch.nn.Parameter(w.clone())

        def call(inputs):
            return torch.stack(list(qnode(inputs, weights)), dim=-1)

    def step():
        weights.grad = None
        out = call(x)
        out.sum().backward()
        return out.detach().cpu().numpy(), weights.grad.cpu().numpy().copy()

    return step


def _two_qubit_depolarizing(p: float) -> list:
    paulis = [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])]
    terms = [np.kron(a, b) for a in paulis for b in paulis]
    weights = [1 - p + p / 16] + [p / 16] * 15
    return [np.sqrt(c) * t for c, t in zip(weights, terms, strict=True)]


def noisy_circuit(cell):
    """The cell's layer with its depolarising channels after every gate, as Aer places them."""
    noise = cell["noise"]
    if "t1" in noise:
        t1, t2 = noise["t1"], noise["t2"]

        def one(wire):
            qp.ThermalRelaxationError(0.0, t1, t2, noise["gate_time_1q"], wires=wire)

        def two(a, b):
            for wire in (a, b):
                qp.ThermalRelaxationError(0.0, t1, t2, noise["gate_time_2q"], wires=wire)

    else:
        kraus = _two_qubit_depolarizing(noise["depolarizing_2q"])

        def one(wire):
            qp.DepolarizingChannel(3 * noise["depolarizing_1q"] / 4, wires=wire)

        def two(a, b):
            qp.QubitChannel(kraus, wires=[a, b])

    def circuit(inputs, weights):
        n = cell["n"]
        for i in range(n):
            qp.RX(inputs[..., i], wires=i)
            one(i)
        for layer in range(weights.shape[0]):
            for i in range(n):
                for gate, k in ((qp.RZ, 0), (qp.RY, 1), (qp.RZ, 2)):
                    gate(weights[layer, i, k], wires=i)
                    one(i)
            for a, b in ring(n):
                qp.CNOT([a, b])
                two(a, b)
        return [qp.expval(qp.Z(i)) for i in range(n)]

    return circuit


def build_noise(name, cell):
    x = torch.tensor(cell["x"], dtype=torch.float64)
    w = torch.tensor(cell["w"], dtype=torch.float64)
    if name in ("torch", "aer"):
        backend = {"torch": "torch.density", "aer": "aer.density"}[name]
        layer = QuantumLayer(cell["n"], n_layers=w.shape[0], backend=backend, noise=cell["noise"], seed=0)
        with torch.no_grad():
            layer.weights.copy_(w)
        weights, call = layer.weights, layer
    elif name == "default.mixed":
        qnode = qp.QNode(noisy_circuit(cell), qp.device(name, wires=cell["n"]), interface="torch")
        weights = torch.nn.Parameter(w.clone())

        def call(inputs):
            return torch.stack(list(qnode(inputs, weights)), dim=-1)

    else:
        raise Unsupported("a statevector simulator without noise")

    def step():
        weights.grad = None
        out = call(x)
        out.sum().backward()
        return out.detach().numpy(), weights.grad.numpy().copy()

    return step


def build(name, cell):
    if cell["regime"] in ("noise", "relax"):
        return build_noise(name, cell)
    if name == "default.mixed":
        raise Unsupported("the density-matrix reference runs the noise cells only")
    return build_qaoa(name, cell) if cell["regime"] == "qaoa" else build_layer(name, cell)


if __name__ == "__main__":
    serve(build)
