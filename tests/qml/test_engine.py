"""The torch engine: values and gradients against default.qubit on random circuits with every gate it runs,
the plan it makes of the study's layers, and what it refuses."""

import numpy as np
import pennylane as qp
import pytest
import torch
from random_circuits import GATES, random_circuit

from qhybrid.qml import QuantumLayer
from qhybrid.qml.circuits import ANSATZE, EMBEDDINGS
from qhybrid.qml.engine import CompiledCircuit, NotTraceable, memory
from qhybrid.qml.engine.plan import Block, PermStage

TOL = 1e-12


@pytest.fixture(params=["loops", "numpy", "torch"])
def arrays_of(request, monkeypatch):
    """Small calls run as compiled loops (with numba) or on numpy arrays, larger ones on torch tensors: all
    three, on every circuit here (the loops where they cover it: gates on at most two wires)."""
    from qhybrid.qml.engine import call, loop_call

    if request.param == "loops" and not loop_call.available():
        pytest.skip("numba is not installed (qhybrid[fast])")
    if request.param != "loops":
        monkeypatch.setattr(loop_call, "LOOP_AMPLITUDES", 0)
    monkeypatch.setattr(call, "NUMPY_AMPLITUDES", call.NUMPY_AMPLITUDES if request.param != "torch" else 0)
    return request.param


def _feed(n_inputs: int):
    """Parameters ``0..n_inputs-1`` read the row's inputs, the rest the weights."""

    def params(x, w):
        return [x[..., i] for i in range(n_inputs)] + [w[i] for i in range(w.shape[0])]

    return params


def _words(n: int) -> list:
    return [qp.Z(w) for w in range(n)] + [qp.Z(0) @ qp.Z(n - 1), qp.I(0)]


def _reference(fn, x, w, cot):
    """Values and the vector-Jacobian product ``cot . d(values)`` on default.qubit (backprop)."""
    dev = qp.device("default.qubit")
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    out = torch.stack(list(qp.QNode(fn, dev, interface="torch")(x, w)), dim=-1)
    (out * cot).sum().backward()
    return out.detach(), x.grad, w.grad


def _ours(circuit, x, w, cot):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    out = circuit(x, w)
    (out * cot).sum().backward()
    return out.detach(), x.grad, w.grad


def _check_random_circuit(ops, n_params, observables, n_wires, n_inputs, batch, seed) -> None:
    """Values and both gradients of ``ops`` measured by ``observables`` against default.qubit (inputs, weights
    and the values' cotangent drawn from ``seed``)."""
    params = _feed(n_inputs)

    def fn(x, w):
        ops(params(x, w))
        return [qp.expval(o) for o in observables]

    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, n_inputs, dtype=torch.float64, generator=gen) * 3
    w = torch.rand(max(n_params - n_inputs, 1), dtype=torch.float64, generator=gen) * 6
    cot = torch.randn(batch, len(observables), dtype=torch.float64, generator=gen)
    circuit = CompiledCircuit(fn, n_wires, n_inputs, tuple(w.shape))
    for got, ref in zip(_ours(circuit, x, w, cot), _reference(fn, x, w, cot), strict=True):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_wires", [3, 7])
def test_random_circuits_equal_default_qubit(seed, n_wires, arrays_of):
    ops, n_params = random_circuit(GATES, n_wires, 40, seed)
    _check_random_circuit(ops, n_params, _words(n_wires), n_wires, n_inputs=3, batch=4, seed=seed)


def _pauli_sums(n: int) -> list:
    """A Z word, single X and Y, a word of every letter and a Hamiltonian whose terms share flip masks."""
    mixed = qp.X(0) @ qp.Y(1) @ qp.Z(n - 1)
    hamiltonian = 0.4 * qp.X(0) @ qp.X(1) - 1.3 * qp.Y(0) @ qp.Y(1) + 0.7 * qp.Z(1) + 2.0 * qp.I(0)
    return [qp.Z(0), qp.X(n - 1), qp.Y(1), mixed, hamiltonian]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_wires", [3, 6])
def test_pauli_sum_observables_equal_default_qubit(seed, n_wires, arrays_of):
    ops, n_params = random_circuit(GATES, n_wires, 30, seed + 100)
    _check_random_circuit(ops, n_params, _pauli_sums(n_wires), n_wires, n_inputs=2, batch=3, seed=seed)


def test_a_double_excitation_runs_as_one_four_wire_gate():
    def fn(x, w):
        qp.BasisState(np.array([1, 1, 0, 0, 0, 0]), wires=range(6))
        qp.DoubleExcitation(w[0], wires=[0, 1, 4, 5])
        qp.SingleExcitation(w[1], wires=[1, 3])
        return [qp.expval(qp.Z(0) @ qp.Z(5)), qp.expval(qp.X(1) @ qp.X(3))]

    circuit = CompiledCircuit(fn, 6, 0, (2,))
    assert [g.op.name for g in circuit.traced.gates[-2:]] == ["DoubleExcitation", "SingleExcitation"]
    w = torch.tensor([0.8, -0.3], dtype=torch.float64)
    cot = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    x = torch.zeros(1, 0, dtype=torch.float64)
    for got, ref in zip(_ours(circuit, x, w, cot)[::2], _reference(fn, x, w, cot)[::2], strict=True):
        np.testing.assert_allclose(got.numpy().reshape(ref.shape), ref.numpy(), atol=TOL, rtol=0)


def test_states_equal_default_qubit_where_z_values_cannot_tell():
    """Gates whose order shows only in phases (a diagonal gate joining a block while another block held a
    gate on its wire) and constant angles that are Python floats (once recorded in single precision)."""

    def gates(w):
        qp.IsingYY(0.4925, wires=[2, 1])
        qp.CRZ(4.098008202627168, wires=[0, 2])
        qp.Y(1)
        qp.CRX(2.198293471807713, wires=[2, 0])
        qp.CZ(wires=[2, 1])
        qp.RY(w[0], wires=1)

    def fn(x, w):
        gates(w)
        return [qp.expval(qp.Z(0))]

    def state(w):
        gates(w)
        return qp.state()

    circuit = CompiledCircuit(fn, 3, 0, (1,))
    w = torch.tensor([0.3], dtype=torch.float64)
    got = circuit.state(torch.zeros(2, 0, dtype=torch.float64), w)
    ref = np.asarray(qp.QNode(state, qp.device("default.qubit", wires=3))(w))
    assert got.shape == (2, 8)
    np.testing.assert_allclose(got.numpy(), np.stack([ref, ref]), atol=TOL, rtol=0)


@pytest.mark.parametrize("block_wires", [1, 2, 3])
def test_any_block_width_gives_the_same_values(block_wires):
    ops, n_params = random_circuit(GATES, 5, 30, seed=11)

    def fn(x, w):
        ops([w[i] for i in range(n_params)])
        return [qp.expval(qp.Z(i)) for i in range(5)]

    w = torch.rand(n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.zeros(2, 1, dtype=torch.float64)
    want = CompiledCircuit(fn, 5, 1, (n_params,))(x, w)
    got = CompiledCircuit(fn, 5, 1, (n_params,), block_wires=block_wires)(x, w)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=TOL)


@pytest.mark.parametrize("embedding", [e for e in EMBEDDINGS if e != "amplitude"])
@pytest.mark.parametrize("ansatz", list(ANSATZE))
@pytest.mark.parametrize("entangling", [True, False])
def test_layer_on_the_engine_equals_default_qubit(embedding, ansatz, entangling, arrays_of):
    _assert_layer_equals_default_qubit(
        6, 5, seed=2, embedding=embedding, ansatz=ansatz, entangling=entangling
    )


def _assert_layer_equals_default_qubit(n: int, batch: int, seed: int, **options) -> None:
    """Values and both gradients of a QuantumLayer on the engine against default.qubit, to TOL."""
    x = torch.rand(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 3
    cot = torch.randn(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    results = {}
    for backend in ("torch", "default"):
        layer = QuantumLayer(n, n_layers=2, backend=backend, seed=4, **options)
        xi = x.clone().requires_grad_()
        out = layer(xi)
        (out * cot).sum().backward()
        results[backend] = (out.detach(), xi.grad, layer.weights.grad)
    for got, ref in zip(results["torch"], results["default"], strict=True):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=TOL, rtol=0)


def test_strongly_entangling_plan_is_a_product_state_two_gathers_and_packed_blocks():
    layer = QuantumLayer(12, n_layers=2, backend="torch", seed=0)
    plan = layer.engine.plan
    # the angle embedding and the first rotation layer act on |0> wire by wire: the prefix, no pass
    assert all(len(p) == 4 for p in plan.prefix)  # RX, then Rot's RZ RY RZ
    kinds = [type(s) for s in plan.stages]
    assert kinds == [PermStage, Block, Block, Block, PermStage]  # ring, 3 blocks of 4 wires, ring
    assert [s.wires for s in plan.stages if isinstance(s, Block)] == [
        (0, 1, 2, 3),
        (4, 5, 6, 7),
        (8, 9, 10, 11),
    ]


def test_a_ring_of_cnots_is_one_permutation():
    def fn(x, w):
        for i in range(4):
            qp.CNOT([i, (i + 1) % 4])
        qp.RY(w[0], wires=0)
        return [qp.expval(qp.Z(0))]

    circuit = CompiledCircuit(fn, 4, 1, (1,))
    (stage,) = [s for s in circuit.plan.stages if isinstance(s, PermStage)]
    basis = np.eye(16)
    want = qp.matrix(lambda: [qp.CNOT([i, (i + 1) % 4]) for i in range(4)], wire_order=range(4))()
    np.testing.assert_array_equal(basis[stage.index], np.real(want))


def test_inputs_shared_by_no_row_give_one_row_broadcast():
    layer = QuantumLayer(3, backend="torch", seed=1)
    x = torch.rand(1, 3, dtype=torch.float64).expand(4, 3)
    out = layer(x)
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out.detach().numpy(), out[:1].detach().expand(4, 3).numpy(), atol=TOL)


def test_an_empty_batch_gives_an_empty_result():
    layer = QuantumLayer(3, backend="torch", seed=1)
    assert layer(torch.zeros(0, 3)).shape == (0, 3)


def test_what_the_engine_cannot_run_is_refused_with_the_reason():
    def state_prep(x, w):
        qp.AmplitudeEmbedding(x, wires=range(2), normalize=True)
        return [qp.expval(qp.Z(0))]

    with pytest.raises(NotTraceable, match="depends on 4 inputs or weights"):
        CompiledCircuit(state_prep, 2, 4, (1,))

    def matrix_measured(x, w):
        qp.RY(w[0], wires=0)
        return [qp.expval(qp.Hermitian(np.array([[1.0, 0.5], [0.5, -1.0]]), wires=0))]

    with pytest.raises(NotTraceable, match="sums of Pauli words"):
        CompiledCircuit(matrix_measured, 1, 1, (1,))

    def probs(x, w):
        qp.RY(w[0], wires=0)
        return [qp.probs(wires=0)]

    with pytest.raises(NotTraceable, match="expectation values only"):
        CompiledCircuit(probs, 1, 1, (1,))

    def nonlinear(x, w):
        qp.RY(torch.sin(w[0]), wires=0)
        return [qp.expval(qp.Z(0))]

    with pytest.raises(NotTraceable, match="not a scaled input"):
        CompiledCircuit(nonlinear, 1, 1, (1,))


def test_auto_falls_back_to_aer_for_a_circuit_the_engine_cannot_run_and_says_so():
    layer = QuantumLayer(4, backend="auto", embedding="amplitude", seed=0)
    assert layer.engine_backend == "aer"
    assert "(aer)" in repr(layer)
    with pytest.raises(NotTraceable):
        QuantumLayer(4, backend="torch", embedding="amplitude", seed=0)


def test_auto_is_the_engine_when_exact_and_aer_with_shots_or_another_gradient_method():
    assert QuantumLayer(3, backend="auto", seed=0).engine_backend == "torch"
    assert QuantumLayer(3, backend="auto", shots=100, seed=0).engine_backend == "aer.shots"
    layer = QuantumLayer(3, backend="auto", diff_method="parameter-shift", seed=0)
    assert (layer.engine_backend, layer.diff_method) == ("aer", "parameter-shift")


def test_the_engine_refuses_shots_and_other_gradient_methods():
    with pytest.raises(ValueError, match="takes no shots"):
        QuantumLayer(3, backend="torch", shots=100)
    with pytest.raises(ValueError, match="their own backward pass"):
        QuantumLayer(3, backend="torch", diff_method="parameter-shift")


def test_the_engine_counts_one_circuit_per_row():
    layer = QuantumLayer(3, backend="torch", seed=0)
    layer(torch.zeros(7, 3)).sum().backward()
    assert layer.circuit_executions == 7


def test_keep_freed_memory_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("QHYBRID_KEEP_FREED_MEMORY", "0")
    memory.keep_freed_memory.cache_clear()
    try:
        assert memory.keep_freed_memory() is False
    finally:
        memory.keep_freed_memory.cache_clear()


def test_a_qaoa_cost_layer_is_one_diagonal_pass_with_one_source():
    import networkx as nx

    from qhybrid.qml.solvers import MaxCut, qaoa_circuit

    problem = MaxCut(nx.random_regular_graph(3, 8, seed=0))
    apply, hamiltonian = qaoa_circuit(problem), problem.cost_hamiltonian()
    words = [qp.Z(i) @ qp.Z(j) for i, j, _ in problem.edges]

    def fn(x, w):
        apply(w, 2)
        return [qp.expval(o) for o in words]

    circuit = CompiledCircuit(fn, 8, 1, (4,))
    diagonal = [s for s in circuit.plan.stages if type(s).__name__ == "DiagStage"]
    assert len(diagonal) == 2 and all(len(s.sources) == 1 for s in diagonal)
    w = torch.tensor([0.3, 0.7, 0.5, 0.2], dtype=torch.float64, requires_grad=True)
    coeffs = torch.tensor([c for c in hamiltonian.coeffs[:-1]], dtype=torch.float64)
    energy = (circuit(torch.zeros(1, 1, dtype=torch.float64), w)[0] * coeffs).sum() + hamiltonian.coeffs[-1]
    energy.backward()

    @qp.qnode(qp.device("default.qubit"), interface="torch")
    def reference(angles):
        apply(angles, 2)
        return qp.expval(hamiltonian)

    w_ref = w.detach().clone().requires_grad_()
    want = reference(w_ref)
    want.backward()
    assert abs(energy.item() - want.item()) < TOL
    np.testing.assert_allclose(w.grad.numpy(), w_ref.grad.numpy(), atol=TOL)


@pytest.mark.parametrize("patch", ["undo", "halving", "split"])
def test_the_memory_light_paths_give_the_same_values_and_gradients(monkeypatch, patch, arrays_of):
    """Wide states are undone instead of kept, measured by halving instead of a sign matrix, and their
    product state's gradient read in halves, chunk by chunk; each path is forced here on a small circuit."""
    from qhybrid.qml.engine import evolve, measure

    if patch == "undo":
        monkeypatch.setattr(evolve, "KEEP_BYTES", 0)
    elif patch == "halving":
        monkeypatch.setattr(measure, "SIGN_MATRIX_WIRES", 2)
    else:
        monkeypatch.setattr(evolve, "SPLIT_AMPLITUDES", 0)
        monkeypatch.setattr(evolve, "SPLIT_CHUNK_BYTES", 64)  # several chunks
    _assert_layer_equals_default_qubit(5, 3, seed=5, embedding="reupload")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_the_engine_runs_on_the_layers_cuda_device():
    import copy

    layer = QuantumLayer(6, n_layers=2, backend="torch", seed=0)
    x = torch.rand(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    want = layer(x)
    want.sum().backward()
    on_gpu = copy.deepcopy(layer).to("cuda")
    on_gpu.weights.grad = None
    got = on_gpu(x.cuda())
    got.sum().backward()
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().numpy(), atol=TOL)
    np.testing.assert_allclose(on_gpu.weights.grad.cpu().numpy(), layer.weights.grad.numpy(), atol=TOL)


def test_a_parameter_that_depends_on_the_rows_position_is_refused():
    """The separable classifier's circuits pick each row's weights by the row's index: the engine must
    not take row 0's relation for every row."""

    def by_position(x, w):
        rows = x.shape[0] if x.ndim == 2 else 1
        qp.RY(w[torch.arange(rows) % 2], wires=0)
        qp.RX(x[..., 0], wires=0)
        return [qp.expval(qp.Z(0))]

    with pytest.raises(NotTraceable, match="the same in every row"):
        CompiledCircuit(by_position, 1, 1, (2,))


def test_a_layer_first_run_under_no_grad_compiles_its_circuit():
    """An unpickled model predicts under ``no_grad``; the trace reads relations off autograd all the same."""
    import pickle

    layer = QuantumLayer(3, backend="torch", seed=2)
    x = torch.rand(4, 3)
    want = layer(x).detach()
    copy = pickle.loads(pickle.dumps(layer))
    with torch.no_grad():
        got = copy(x)
    assert copy.engine_backend == "torch"
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
