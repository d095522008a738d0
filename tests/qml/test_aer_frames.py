"""The adjoint's reversed pass in numpy, for circuits diagonal layer by layer in a frame per wire (QAOA)."""

import networkx as nx
import numpy as np
import pennylane as qp
import pytest
import random_circuits  # tests/qml/random_circuits.py, on sys.path through conftest.py
from pennylane import numpy as pnp

from qhybrid.qml import make_device
from qhybrid.qml.aer import frames
from qhybrid.qml.aer.paulis import z_signs

# Gates diagonal in the Z or X frame of each wire, and H (a change of frame), as (op, n_params, n_wires).
FRAME_GATES = [
    (qp.RX, 1, 1), (qp.RZ, 1, 1), (qp.PhaseShift, 1, 1), (qp.IsingZZ, 1, 2), (qp.IsingXX, 1, 2),
    (qp.S, 0, 1), (qp.T, 0, 1), (qp.SX, 0, 1), (qp.PauliX, 0, 1), (qp.PauliZ, 0, 1), (qp.CZ, 0, 2),
    (qp.Hadamard, 0, 1), (qp.CNOT, 0, 2),
]  # fmt: skip


@pytest.fixture
def reverse_calls(monkeypatch):
    """Counts the numpy reversed passes, so a test knows which path ran."""
    calls = []
    original = frames.reverse

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(frames, "reverse", counting)
    return calls


@pytest.mark.parametrize("name", ["rz", "rzz", "p", "rx", "rxx"])
def test_generator_terms_give_the_qiskit_gate_in_its_frame(name):
    from qiskit.circuit import library
    from qiskit.quantum_info import Operator

    gate_class = {
        "rz": library.RZGate,
        "rzz": library.RZZGate,
        "p": library.PhaseGate,
        "rx": library.RXGate,
        "rxx": library.RXXGate,
    }[name]
    n = gate_class(0.0).num_qubits
    angle = 0.83
    diag = np.zeros(2**n)
    for word, c in frames.generator_terms(name, tuple(range(n))):
        diag += c * z_signs(n, word)
    matrix = Operator(gate_class(angle)).data  # symmetric in its qubits: qubit order does not matter
    if name in ("rx", "rxx"):  # the X frame: H on every wire
        h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
        frame = h if n == 1 else np.kron(h, h)
        matrix = frame @ matrix @ frame
    np.testing.assert_allclose(matrix, np.diag(np.exp(-1j * angle * diag)), atol=1e-14)


def _circuit(n, seed, n_gates=14):
    ops, n_params = random_circuits.random_circuit(FRAME_GATES, n, n_gates, seed)

    def circuit(x, w):
        for i in range(n):
            qp.Hadamard(i)
        qp.AngleEmbedding(x, wires=range(n), rotation="Z")
        ops(w)
        return [
            qp.expval(qp.Z(0) @ qp.Z(n - 1)),
            qp.expval(0.4 * qp.X(1) - 0.9 * qp.Z(0) @ qp.Z(2) + 0.3 * qp.Y(0) @ qp.X(2)),
        ]

    return circuit, n_params


def _stacked(qnode, x):
    return lambda w: qp.math.stack(qnode(x, w))


@pytest.mark.parametrize("seed", range(4))
def test_random_frame_circuits_match_default_qubit(seed, reverse_calls):
    n = 4
    circuit, n_params = _circuit(n, seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, (3, n))  # a batch of inputs: the rows' cost angles differ
    w = pnp.array(rng.uniform(-np.pi, np.pi, n_params), requires_grad=True)
    results = []
    for device, method in (
        (make_device("aer", n), "adjoint"),
        (qp.device("default.qubit", wires=n), "backprop"),
    ):
        stacked = _stacked(qp.QNode(circuit, device, diff_method=method), x)
        results.append((stacked(w), qp.jacobian(stacked)(w)))
    assert reverse_calls, "the numpy reversed pass did not run"
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-9)


def _torch_vjp_against_default_qubit(circuit, n, x, w0, cotangent):
    """The outputs and the torch VJPs (weights, inputs) of ``circuit(x, w)`` on Aer's adjoint and on
    default.qubit's backprop, each with ``cotangent`` weighting the stacked outputs, asserted equal."""
    import torch

    results = []
    for device, method in (
        (make_device("aer", n), "adjoint"),
        (qp.device("default.qubit", wires=n), "backprop"),
    ):
        w = w0.clone().requires_grad_()
        xs = x.clone().requires_grad_()
        out = torch.stack(qp.QNode(circuit, device, interface="torch", diff_method=method)(xs, w))
        (out * cotangent).sum().backward()
        results.append((out.detach().numpy(), w.grad.numpy(), xs.grad.numpy()))
    for ours, reference in zip(*results, strict=True):
        np.testing.assert_allclose(ours, reference, atol=1e-9)


def test_torch_vjp_of_a_batch_matches_default_qubit(reverse_calls):
    import torch

    n = 5
    circuit, n_params = _circuit(n, seed=7, n_gates=20)
    x = torch.rand(6, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = torch.linspace(-2, 2, n_params, dtype=torch.float64)
    _torch_vjp_against_default_qubit(circuit, n, x, w, torch.tensor([[1.0], [-2.0]], dtype=torch.float64))
    assert reverse_calls


def test_qaoa_runs_the_numpy_pass_and_the_aer_pass_agrees(reverse_calls, monkeypatch):
    n = 6
    graph = nx.random_regular_graph(3, n, seed=2)
    cost, mixer = qp.qaoa.maxcut(graph)
    angles = pnp.array([[0.4, -0.7], [1.1, 0.3]], requires_grad=True)
    device = make_device("aer", n)

    @qp.qnode(device, diff_method="adjoint")
    def energy(a):
        for i in range(n):
            qp.Hadamard(i)
        qp.layer(lambda g, b: (qp.qaoa.cost_layer(g, cost), qp.qaoa.mixer_layer(b, mixer)), 2, *a)
        return qp.expval(cost)

    numpy_pass = qp.grad(energy)(angles)
    assert reverse_calls and device.aer_calls == 1  # the forward pass only
    monkeypatch.setattr(frames, "plan", lambda *args: None)
    aer_pass = qp.grad(energy)(angles)
    np.testing.assert_allclose(numpy_pass, aer_pass, atol=1e-10)


def test_a_layer_without_a_frame_runs_in_aer(reverse_calls):
    n = 3

    @qp.qnode(make_device("aer", n), diff_method="adjoint")
    def circuit(w):
        qp.RX(w[0], wires=0)
        qp.RY(w[1], wires=1)  # a Y rotation has no frame here
        qp.IsingZZ(w[2], wires=[0, 1])
        return qp.expval(qp.Z(0) @ qp.Z(1))

    w = pnp.array([0.3, -0.4, 0.8], requires_grad=True)
    ours = qp.grad(circuit)(w)
    reference = qp.grad(qp.QNode(circuit.func, qp.device("default.qubit", wires=n)))(w)
    assert not reverse_calls
    np.testing.assert_allclose(ours, reference, atol=1e-10)


@pytest.mark.parametrize(
    "words, phase",
    [
        ([(0,), (1,), (2,), (3,)], [[0.3, -0.2, 1.1, 0.0], [0.5, 0.5, -0.7, 2.0]]),  # one-wire factors
        ([(0, 1), (1, 2), (0, 3)], [[0.4, 0.4, 0.4], [-1.2, -1.2, -1.2]]),  # one coefficient: levels
        ([(0, 1), (2,), ()], [[0.4, -0.3, 0.9], [0.1, 0.2, 0.3]]),  # anything else: exp
        ([(0, 1), (2,), ()], [[0.4, -0.3, 0.9], [0.4, -0.3, 0.9]]),  # the same in every row: one row
    ],
)
def test_the_layer_phase_shortcuts_equal_the_exponential(words, phase):
    from types import SimpleNamespace

    n = 4
    index = {w: i for i, w in enumerate(words)}
    signs = np.stack([z_signs(n, w) for w in words]).astype(float)
    structure = SimpleNamespace(n_wires=n, circuits={})
    phase = np.array(phase)
    got = frames._undo(structure, [0], phase, index, signs)
    assert got.shape == ((1, 2**n) if np.all(phase == phase[:1]) else (2, 2**n))
    np.testing.assert_allclose(np.broadcast_to(got, (2, 2**n)), np.exp(-1j * (phase @ signs)), atol=1e-14)


@pytest.mark.parametrize("wires", [(0, 1), (1, 0)])
@pytest.mark.parametrize("start", [("Z", "Z"), ("Z", "X"), ("X", "X"), ("X", "Z")])
def test_a_cnot_is_undone_as_a_phase_or_a_permutation_in_its_frames(wires, start):
    n = 2
    frames_now = [None, None]
    frames_now[wires[0]], frames_now[wires[1]] = start  # (control, target)
    need, perm = frames._cx_undo(wires, frames_now)
    for w, f in need.items():
        frames_now[w] = f
    assert len([w for w, f in need.items() if f != dict(zip(wires, start, strict=True))[w]]) <= 1
    hadamard = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    frame = np.kron(*[hadamard if f == "X" else np.eye(2) for f in frames_now])
    gate = frame @ qp.matrix(qp.CNOT(wires=list(wires)), wire_order=[0, 1]) @ frame  # in the stored frames
    if perm is None:
        assert start == ("Z", "X")
        np.testing.assert_allclose(gate, np.diag(np.diag(gate)), atol=1e-12)
    else:
        index = frames.permutation(n, [perm])
        np.testing.assert_allclose(gate, np.eye(2**n)[index], atol=1e-12)


def test_the_dressed_circuit_changes_frame_once_and_matches_default_qubit(reverse_calls, monkeypatch):
    import torch

    n, layers = 5, 3
    flipped = []
    original = frames.hadamard
    monkeypatch.setattr(frames, "hadamard", lambda s, w, n: flipped.append(tuple(w)) or original(s, w, n))

    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))  # RX
        qp.BasicEntanglerLayers(w, wires=range(n))  # RX on every wire, then a ring of CNOTs
        return [qp.expval(qp.Z(i)) for i in range(n)]

    x = torch.rand(7, n, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    w = torch.linspace(-2, 2, layers * n, dtype=torch.float64).reshape(layers, n)
    _torch_vjp_against_default_qubit(circuit, n, x, w, torch.arange(1.0, n + 1, dtype=torch.float64)[:, None])
    assert reverse_calls
    # psi and lambda enter the X frame once, before the last rx layer: the ring's CNOTs are permutations
    assert flipped == [tuple(range(n))] * (2 * len(reverse_calls))  # per reversed pass
