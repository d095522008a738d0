"""The small-register loops (numba): values and gradients against default.qubit on random circuits of every
one- and two-qubit gate, which circuits and calls they take, and what stays on the array engine."""

import numpy as np
import pennylane as qp
import pytest
import torch
from random_circuits import GATES, random_circuit
from test_engine import _check_random_circuit, _words

from qhybrid.qml import QuantumLayer
from qhybrid.qml.engine import CompiledCircuit, loop_call

pytestmark = pytest.mark.skipif(not loop_call.available(), reason="numba is not installed (qhybrid[fast])")

#: The random circuits' gates the loops run: every one on one or two wires.
NARROW = [g for g in GATES if g[2] <= 2]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n_wires", [2, 3, 6])
def test_random_circuits_on_the_loops_equal_default_qubit(seed, n_wires, monkeypatch):
    ops, n_params = random_circuit(NARROW, n_wires, 40, seed)
    ran = []
    real = loop_call.LoopCall.apply
    monkeypatch.setattr(loop_call.LoopCall, "apply", lambda *a: ran.append(1) or real(*a))
    _check_random_circuit(ops, n_params, _words(n_wires), n_wires, n_inputs=3, batch=4, seed=seed)
    assert ran, "the call did not run on the loops"


def _circuit(fn, n_wires=3, n_inputs=2, weights=(2,)):
    return CompiledCircuit(fn, n_wires, n_inputs, weights)


def test_a_three_wire_gate_or_a_pauli_sum_keeps_the_circuit_on_the_array_engine():
    def toffoli(x, w):
        qp.RX(x[..., 0], wires=0)
        qp.Toffoli(wires=[0, 1, 2])
        return [qp.expval(qp.Z(2))]

    def pauli(x, w):
        qp.RX(x[..., 0], wires=0)
        return [qp.expval(qp.X(0) + 0.5 * qp.Y(1))]

    assert _circuit(toffoli).loops is None
    assert _circuit(pauli).loops is None


def test_only_small_cpu_calls_run_the_loops():
    def fn(x, w):
        qp.RX(x[..., 0], wires=0)
        qp.CNOT([0, 1])
        qp.RY(w[0], wires=1)
        return [qp.expval(qp.Z(1))]

    circuit = _circuit(fn)
    w = torch.zeros(2, dtype=torch.float64)
    assert circuit._on_loops(torch.zeros(8, 2), w)
    rows = loop_call.LOOP_AMPLITUDES // 2**3 + 1
    assert not circuit._on_loops(torch.zeros(rows, 2), w)


def test_a_circuit_no_row_reads_runs_once_and_is_broadcast():
    def fn(x, w):
        qp.RY(w[0], wires=0)
        qp.CRX(w[1], wires=[0, 1])
        return [qp.expval(qp.Z(1)), qp.expval(qp.Z(0) @ qp.Z(1))]

    circuit = _circuit(fn)
    assert not circuit.loops.per_row
    w = torch.tensor([0.7, 1.1], dtype=torch.float64, requires_grad=True)
    out = circuit(torch.zeros(5, 2, dtype=torch.float64), w)
    out.sum().backward()
    ref_w = w.detach().clone().requires_grad_()
    ref = torch.stack(list(qp.QNode(lambda w: fn(None, w), qp.device("default.qubit"))(ref_w)))
    (5 * ref.sum()).backward()
    np.testing.assert_allclose(
        out.detach().numpy(), np.broadcast_to(ref.detach().numpy(), (5, 2)), atol=1e-13
    )
    np.testing.assert_allclose(w.grad.numpy(), ref_w.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("n", [1, 4])
def test_the_layer_trains_on_the_loops_as_on_default_qubit(n):
    torch.manual_seed(0)
    ours = QuantumLayer(n, n_layers=2, backend="torch", seed=3)
    ref = QuantumLayer(n, n_layers=2, backend="default", seed=3)
    x = torch.rand(6, n, dtype=torch.float64)
    for layer in (ours, ref):
        opt = torch.optim.SGD(layer.parameters(), lr=0.3)
        for _ in range(3):
            opt.zero_grad()
            layer(x).pow(2).sum().backward()
            opt.step()
    np.testing.assert_allclose(ours.weights.detach().numpy(), ref.weights.detach().numpy(), atol=1e-12)
