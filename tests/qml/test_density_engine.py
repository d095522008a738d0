"""The density engine (backend ``torch.density``): values and gradients against default.mixed on random
circuits with random PennyLane channels, against Aer's density matrix under Aer noise models, against finite
differences; its plan, its memory path, and where ``auto`` sends noise."""

import numpy as np
import pennylane as qp
import pytest
import torch
from random_circuits import GATES, random_circuit

from qhybrid.qml import QuantumLayer, make_device
from qhybrid.qml.engine import (
    DensityCircuit,
    NotTraceable,
    density_call,
    density_gather,
    density_loop_call,
    density_singles,
)
from qhybrid.qml.noise import NoiseSpec, noise_model

TOL = 1e-10

# (channel, ranges of its values, wires); values are drawn once per test circuit
CHANNELS = [
    (qp.DepolarizingChannel, [(0, 0.3)], 1),
    (qp.AmplitudeDamping, [(0, 1)], 1),
    (qp.GeneralizedAmplitudeDamping, [(0, 1), (0, 1)], 1),
    (qp.PhaseDamping, [(0, 1)], 1),
    (qp.BitFlip, [(0, 1)], 1),
    (qp.PhaseFlip, [(0, 1)], 1),
    (qp.ResetError, [(0, 0.5), (0, 0.5)], 1),
    (lambda p, wires: qp.PauliError("XZ", p, wires=wires), [(0, 1)], 2),
    (lambda t, wires: qp.ThermalRelaxationError(0.1, 5.0, 4.0, t, wires=wires), [(0.1, 2)], 1),
    (lambda seed, wires: qp.QubitChannel(_random_kraus(int(seed)), wires=wires), [(0, 1000)], 2),
]


def _random_kraus(seed: int, k: int = 3):
    """``k`` Kraus operators of a random two-qubit channel (a random isometry, cut into blocks)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(4 * k, 4)) + 1j * rng.normal(size=(4 * k, 4)))
    return [q[4 * i : 4 * i + 4] for i in range(k)]


def _channels(n_wires: int, rng, count: int) -> list:
    """``count`` random channels on random wires, as functions that queue them."""
    out = []
    for _ in range(count):
        make, ranges, width = CHANNELS[int(rng.integers(len(CHANNELS)))]
        values = [float(rng.uniform(lo, hi)) for lo, hi in ranges]
        wires = [int(v) for v in rng.choice(n_wires, width, replace=False)]
        out.append(lambda make=make, values=values, wires=wires: make(*values, wires=wires))
    return out


def _noisy_circuit(n_wires: int, seed: int, n_inputs: int = 3, gates=GATES):
    """Random gates, random channels, random gates, random channels; ``<Z_i>`` and ``<Z_0 Z_last>``."""
    first, n_first = random_circuit(gates, n_wires, 15, seed)
    second, n_second = random_circuit(gates, n_wires, 15, seed + 50)
    rng = np.random.default_rng(seed + 100)
    middle, last = _channels(n_wires, rng, 4), _channels(n_wires, rng, 4)

    def fn(x, w):
        params = [x[..., i] for i in range(n_inputs)] + [w[i] for i in range(w.shape[0])]
        first(params[:n_first])
        for queue in middle:
            queue()
        second(params[n_first:])
        for queue in last:
            queue()
        return [qp.expval(qp.Z(i)) for i in range(n_wires)] + [qp.expval(qp.Z(0) @ qp.Z(n_wires - 1))]

    return fn, n_first + n_second - n_inputs


def _mixed_reference(fn, n_wires: int):
    """``fn`` on full density matrices, one matrix per operation, by torch autograd: a second route to the
    values and gradients (default.mixed applies diagonal gates in single precision: RZ is off by 3e-8)."""

    def run(x, w):
        tape = qp.tape.make_qscript(fn)(x, w)
        d = 2**n_wires
        rho = torch.zeros(x.shape[0], d, d, dtype=torch.complex128)
        rho[:, 0, 0] = 1
        for op in tape.operations:
            if isinstance(op, qp.operation.Channel):
                kraus = [
                    qp.math.expand_matrix(k, op.wires, wire_order=range(n_wires)) for k in op.kraus_matrices()
                ]
                kraus = [torch.as_tensor(np.asarray(k), dtype=torch.complex128) for k in kraus]
                rho = sum(k @ rho @ k.conj().T for k in kraus)
            else:
                u = torch.as_tensor(qp.matrix(op, wire_order=range(n_wires))).to(torch.complex128)
                rho = u @ rho @ u.conj().transpose(-1, -2)
        probs = torch.diagonal(rho, dim1=-2, dim2=-1).real
        values = []
        for mp in tape.measurements:
            signs = torch.tensor(
                np.real(np.diag(qp.matrix(mp.obs, wire_order=range(n_wires)))), dtype=torch.float64
            )
            values.append(probs @ signs)
        return torch.stack(values, -1)

    return run


def _vjp(fn_or_circuit, x, w, cot, device=None):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    if device is None:
        out = fn_or_circuit(x, w)
    else:
        out = torch.stack(list(qp.QNode(fn_or_circuit, device, interface="torch")(x, w)), dim=-1)
    (out * cot).sum().backward()
    return out.detach(), x.grad, w.grad


def _inputs(n_inputs, n_weights, batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, n_inputs, generator=g, dtype=torch.float64) * 3
    w = torch.rand(n_weights, generator=g, dtype=torch.float64) * 3
    return x, w


@pytest.fixture(params=["loops", "tiles", "numpy", "torch"])
def arrays_of(request, monkeypatch):
    """Small calls run as compiled loops (with numba, items on at most two wires), wider ones as passes over
    numpy arrays with runs of one-qubit stages as compiled tile passes (with numba) or one by one, or on
    torch tensors: all four, on every circuit here."""
    if request.param in ("loops", "tiles") and not density_loop_call.available():
        pytest.skip("numba is not installed (qhybrid[fast])")
    if request.param != "loops":
        monkeypatch.setattr(density_loop_call, "LOOP_COEFFICIENTS", 0)
    if request.param == "numpy":  # as without numba
        monkeypatch.setattr(density_singles, "available", lambda: False)
        monkeypatch.setattr(density_gather, "compiled", lambda: False)
    small = density_call.NUMPY_AMPLITUDES if request.param != "torch" else 0
    monkeypatch.setattr(density_call, "NUMPY_AMPLITUDES", small)
    return request.param


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_wires", [3, 4])
def test_random_circuits_with_random_channels_equal_full_density_matrices(seed, n_wires, arrays_of):
    # the loops run gates on at most two wires: their circuits leave out Toffoli, CSWAP and MultiRZ on three
    gates = [g for g in GATES if g[2] <= 2] if arrays_of == "loops" else GATES
    fn, n_weights = _noisy_circuit(n_wires, seed, gates=gates)
    x, w = _inputs(3, n_weights, seed=seed)
    circuit = DensityCircuit(fn, n_wires, 3, (n_weights,))
    assert (arrays_of == "loops") == circuit._on_loops(x)
    cot = torch.randn(4, n_wires + 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    ours = _vjp(circuit, x, w, cot)
    reference = _vjp(_mixed_reference(fn, n_wires), x, w, cot)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL)


@pytest.mark.parametrize("index", range(len(CHANNELS)))
def test_every_pennylane_channel_equals_default_mixed(index):
    make, ranges, width = CHANNELS[index]
    values = [lo + (hi - lo) / 3 for lo, hi in ranges]

    def fn(x, w):
        qp.RX(x[..., 0], wires=0)
        qp.RY(w[0], wires=1)
        qp.CNOT([0, 1])
        qp.RX(x[..., 1], wires=2)
        qp.CNOT([1, 2])
        make(*values, wires=[0, 2][:width])
        qp.RY(w[1], wires=2)
        qp.CNOT([2, 0])
        return [qp.expval(qp.Z(0)), qp.expval(qp.Z(0) @ qp.Z(2))]

    x, w = _inputs(2, 2, batch=3)
    cot = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(index))
    ours = _vjp(DensityCircuit(fn, 3, 2, (2,)), x, w, cot)
    reference = _vjp(fn, x, w, cot, qp.device("default.mixed", wires=3))
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL)


def _layer(n: int):
    def fn(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.StronglyEntanglingLayers(w.reshape(2, n, 3), wires=range(n))
        qp.CRX(w[0], wires=[n - 1, 0])
        qp.IsingZZ(w[1], wires=[0, 2])
        qp.Toffoli(wires=[0, 1, 2])
        qp.Hadamard(1)
        return [qp.expval(qp.Z(i)) for i in range(n)]

    return fn


def _custom_model():
    from qiskit.circuit.library import RXGate
    from qiskit_aer.noise import (
        NoiseModel,
        amplitude_damping_error,
        coherent_unitary_error,
        depolarizing_error,
        thermal_relaxation_error,
    )

    model = NoiseModel()
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.05), ["rz", "h"])
    model.add_quantum_error(thermal_relaxation_error(5, 3, 0.4), ["ry"], [1])  # one qubit only
    model.add_all_qubit_quantum_error(coherent_unitary_error(RXGate(0.1).to_matrix()), ["rx"])
    model.add_quantum_error(depolarizing_error(0.1, 2), ["cx"], [0, 2])  # a local two-qubit error
    model.add_all_qubit_quantum_error(depolarizing_error(0.02, 2), ["cx", "rzz"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.03, 3), ["ccx"])
    return model


@pytest.mark.parametrize(
    "noise",
    [
        NoiseSpec(depolarizing_1q=0.02, depolarizing_2q=0.05),
        NoiseSpec(t1=5e-6, t2=4e-6),
        NoiseSpec(depolarizing_1q=0.01, depolarizing_2q=0.03, t1=5e-6, t2=4e-6),
        "custom",
    ],
    ids=["depolarising", "t1t2", "both", "custom"],
)
def test_aer_noise_models_equal_aer_density(noise, arrays_of):
    n = 4
    model = _custom_model() if noise == "custom" else noise_model(noise)
    fn = _layer(n)
    x, w = _inputs(n, 2 * n * 3)
    cot = torch.randn(4, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = _vjp(DensityCircuit(fn, n, n, (len(w),), noise_model=model), x, w, cot)
    device = make_device("aer.density", n, noise=model)
    reference = _vjp(fn, x, w, cot, device)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL)


def test_gradients_equal_finite_differences():
    n = 3
    fn = _layer(n)
    circuit = DensityCircuit(fn, n, n, (2 * n * 3,), noise_model=noise_model(NoiseSpec(t1=5e-6, t2=4e-6)))
    x, w = _inputs(n, 2 * n * 3, batch=2)
    cot = torch.tensor([[0.3, -1.0, 0.7], [1.1, 0.2, -0.4]], dtype=torch.float64)
    _, _, grad = _vjp(circuit, x, w, cot)
    h = 1e-6
    for j in range(0, len(w), 5):
        step = torch.zeros_like(w)
        step[j] = h
        fd = ((circuit(x, w + step) - circuit(x, w - step)) * cot).sum() / (2 * h)
        assert abs(float(fd) - float(grad[j])) < 1e-7


def test_the_recomputing_backward_equals_the_keeping_one(monkeypatch):
    n = 4
    fn = _layer(n)
    model = noise_model(NoiseSpec(depolarizing_1q=0.02, depolarizing_2q=0.05))
    circuit = DensityCircuit(fn, n, n, (2 * n * 3,), noise_model=model)
    x, w = _inputs(n, 2 * n * 3)
    cot = torch.randn(4, n, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kept = _vjp(circuit, x, w, cot)
    monkeypatch.setattr(density_call, "KEEP_BYTES", 1)  # keep one pass input in isqrt(passes), run again
    again = _vjp(circuit, x, w, cot)
    for a, b in zip(kept, again, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-13)


def test_the_plan_folds_one_qubit_noise_into_the_start_and_cnot_rings_into_one_gather():
    n = 4
    fn = _layer(n)
    circuit = DensityCircuit(fn, n, n, (2 * n * 3,), noise_model=noise_model(NoiseSpec(depolarizing_1q=0.01)))
    plan = circuit.plan
    # angle embedding and the first layer's rotations (with their errors) make the product start state
    assert all(len(chain) == 1 + 3 for chain in plan.prefix)
    kinds = [(st.kind, len(st.items)) for st in plan.stages]
    # each ring of CNOTs is one gather; the second layer's rotations, one 4 x 4 pass per wire, come before it
    assert kinds[:6] == [
        ("gather", 4),
        ("single", 3),
        ("single", 3),
        ("single", 3),
        ("single", 3),
        ("gather", 4),
    ]
    # every item lands once: the start, a stage
    placed = sorted([i for chain in plan.prefix for i in chain] + [i for st in plan.stages for i in st.items])
    assert placed == list(range(len(plan.items)))


def test_two_qubit_depolarising_keeps_cnots_monomial_and_relaxation_makes_them_dense():
    n = 4
    depolarising = DensityCircuit(
        _layer(n), n, n, (24,), noise_model=noise_model(NoiseSpec(depolarizing_1q=0.01, depolarizing_2q=0.02))
    )
    assert depolarising.plan.stages[0].kind == "gather" and len(depolarising.plan.stages[0].items) == n
    relaxed = DensityCircuit(_layer(n), n, n, (24,), noise_model=noise_model(NoiseSpec(t1=5e-6, t2=4e-6)))
    assert {st.kind for st in relaxed.plan.stages} == {"dense"}


def test_trainable_noise_and_unknown_noise_passes_are_refused():
    def trainable(x, w):
        qp.RX(x[..., 0], wires=0)
        qp.DepolarizingChannel(w[0] * 0.1, wires=0)
        return [qp.expval(qp.Z(0))]

    with pytest.raises(
        NotTraceable, match="DepolarizingChannel has a trainable or input-dependent parameter"
    ):
        DensityCircuit(trainable, 1, 1, (1,))

    class Passes:
        _custom_noise_passes = [object()]

    with pytest.raises(NotTraceable, match="custom noise passes"):
        DensityCircuit(_layer(3), 3, 3, (18,), noise_model=Passes())


def test_auto_runs_noise_and_channels_on_the_density_engine():
    spec = {"depolarizing_1q": 0.01, "depolarizing_2q": 0.02}
    layer = QuantumLayer(3, backend="auto", noise=spec, seed=0)
    assert layer.engine_backend == "torch.density"
    reference = QuantumLayer(3, backend="aer.density", noise=spec, seed=0)
    x = torch.rand(5, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(x), reference(x), atol=1e-12, rtol=0)

    class Damped(QuantumLayer):
        def circuit(self, inputs, weights):
            qp.AngleEmbedding(inputs, wires=range(self.n_qubits))
            qp.AmplitudeDamping(0.3, wires=0)
            qp.StronglyEntanglingLayers(weights, wires=range(self.n_qubits))
            return [qp.expval(qp.Z(w)) for w in range(self.n_qubits)]

    damped = Damped(3, backend="auto", seed=0)
    assert damped.engine_backend == "torch.density"  # the statevector engine cannot run a channel
    out = damped(x)
    dev = qp.device("default.mixed", wires=3)
    expected = torch.stack(qp.QNode(damped.circuit, dev, interface="torch")(x, damped.weights.detach()), -1)
    torch.testing.assert_close(out.detach(), expected, atol=1e-12, rtol=0)


def test_engine_backends_are_not_devices_and_readout_needs_shots():
    with pytest.raises(ValueError, match="'torch.density' is qhybrid's engine for QuantumLayer"):
        make_device("torch.density", 2)
    with pytest.raises(ValueError, match="readout errors act only on sampled"):
        QuantumLayer(2, backend="torch.density", noise={"readout": 0.05}, seed=0)


def test_a_pennylane_noise_model_runs_where_default_mixed_puts_it():
    model = qp.NoiseModel(
        {
            qp.noise.op_eq(qp.Rot): qp.noise.partial_wires(qp.AmplitudeDamping, 0.2),
            qp.noise.op_eq(qp.CNOT): qp.noise.partial_wires(qp.PhaseDamping, 0.1),
        }
    )
    layer = QuantumLayer(3, backend="auto", noise=model, seed=0)
    assert layer.engine_backend == "torch.density"
    x = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = layer(x)
    out.sum().backward()
    w = layer.weights.detach().clone().requires_grad_()
    qnode = qp.QNode(layer.circuit, qp.device("default.mixed", wires=3), interface="torch")
    expected = torch.stack(qp.add_noise(qnode, model, level="device")(x, w), -1)
    expected.sum().backward()
    torch.testing.assert_close(out.detach(), expected.detach(), atol=1e-12, rtol=0)
    torch.testing.assert_close(layer.weights.grad, w.grad, atol=1e-12, rtol=0)
    on_aer = QuantumLayer(3, backend="aer.density", noise=model, seed=0)  # the same channels, as kraus gates
    torch.testing.assert_close(on_aer(x), out.detach(), atol=1e-12, rtol=0)
    for refused in (
        lambda: make_device("aer", 3, noise=model),
        lambda: QuantumLayer(3, backend="auto", shots=10, noise=model),
    ):
        with pytest.raises(
            ValueError, match="a PennyLane NoiseModel needs density matrices: backend 'aer.density'"
        ):
            refused()
