"""A real device's noise: circuits compiled to a backend's gates and coupling map, under its noise model."""

import importlib.util
import warnings

import numpy as np
import pennylane as qp
import pytest
from pennylane import numpy as pnp

from qhybrid.qml import make_device

N = 4


def circuit(w):
    qp.RX(w[0], 0)
    qp.RY(w[1], 1)
    qp.CNOT([0, 3])  # not adjacent on every coupling map: routing moves wires
    qp.IsingZZ(w[2], [1, 3])
    qp.CRY(w[0], [3, 2])
    qp.Hadamard(2)
    return qp.expval(qp.Z(0) @ qp.Z(3)), qp.expval(qp.X(1) - 0.5 * qp.Y(2)), qp.probs(wires=[2, 0])


W = pnp.array([0.3, 0.5, 0.7], requires_grad=True)


def _flat(results):
    return np.concatenate([np.atleast_1d(np.asarray(r, dtype=float)) for r in results])


@pytest.fixture
def ideal_backend():
    """A 6-qubit backend with a coupling map and basis gates but no errors."""
    from qiskit.providers.fake_provider import GenericBackendV2

    return GenericBackendV2(num_qubits=6, basis_gates=["cx", "rz", "sx", "x"], noise_info=False, seed=1)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*has no QubitProperties.*")
        yield


def test_compiled_circuits_without_errors_equal_default_qubit(ideal_backend):
    dev = make_device("aer.density", N, noise=ideal_backend)
    assert dev.backend is ideal_backend
    ours = qp.QNode(circuit, dev)
    reference = qp.QNode(circuit, qp.device("default.qubit", wires=N))
    np.testing.assert_allclose(_flat(ours(W)), _flat(reference(W)), atol=1e-10)
    jac = qp.jacobian(lambda w: qp.math.stack(ours(w)[:2]))(W)
    want = qp.jacobian(lambda w: qp.math.stack(reference(w)[:2]))(W)
    assert dev.last_gradient_method == "parameter-shift"
    np.testing.assert_allclose(jac, want, atol=1e-9)
    compiled = next(iter(dev._runner.compiler._compiled.values()))[1]
    assert set(compiled.count_ops()) <= {"cx", "rz", "sx", "x", "save_density_matrix", "save_probabilities"}


def test_sampled_compiled_circuits_agree_within_five_standard_errors(ideal_backend):
    shots = 20_000
    dev = make_device("aer.shots", N, shots=shots, noise=ideal_backend, seed=7)
    ours = _flat(qp.QNode(circuit, dev)(W))
    want = _flat(qp.QNode(circuit, qp.device("default.qubit", wires=N))(W))
    # <Z0 Z3> is +1 exactly; the other expectation has variance <= 1.25, probabilities p(1-p)
    se = np.concatenate([[1e-12, np.sqrt(1.25 / shots)], np.sqrt(want[2:] * (1 - want[2:]) / shots)])
    assert np.all(np.abs(ours - want) <= 5 * se + 1e-12)


def _fake_manila_reference(w):
    """The same circuit written in Qiskit by hand (device wire i is qubit n-1-i), transpiled for the backend
    with the device's transpiler settings and simulated under its noise model without truncation."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit import ParameterVector
    from qiskit.quantum_info import Pauli
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    backend, n = FakeManilaV2(), 3
    t = ParameterVector("t", 3)
    qc = QuantumCircuit(n)
    qc.rx(t[0], 2)
    qc.ry(t[1], 1)
    qc.cx(2, 0)
    qc.rzz(t[2], 1, 0)
    compiled = transpile(qc, backend=backend, optimization_level=1, seed_transpiler=0)
    final = compiled.layout.final_index_layout()
    compiled.save_expectation_value(Pauli("ZZ"), [final[2], final[0]], label="zz")
    compiled.save_expectation_value(Pauli("X"), [final[1]], label="x")
    sim = AerSimulator(
        method="density_matrix",
        noise_model=NoiseModel.from_backend(backend, readout_error=False),
        enable_truncation=False,
    )
    binds = [{t[i]: [float(w[i])] for i in range(3)}]
    data = sim.run(compiled, parameter_binds=binds).result().data(0)
    return np.array([data["zz"], data["x"]])


def test_a_fake_ibm_backend_noise_lands_on_the_gates_the_device_runs():
    pytest.importorskip("qiskit_ibm_runtime")
    dev = make_device("aer.density", 3, noise="fake_manila")

    @qp.qnode(dev)
    def small(w):
        qp.RX(w[0], 0)
        qp.RY(w[1], 1)
        qp.CNOT([0, 2])
        qp.IsingZZ(w[2], [1, 2])
        return qp.expval(qp.Z(0) @ qp.Z(2)), qp.expval(qp.X(1))

    ours = np.array(small(W))
    np.testing.assert_allclose(ours, _fake_manila_reference(W), atol=1e-10)
    ideal = np.array(qp.QNode(small.func, qp.device("default.qubit", wires=3))(W))
    assert 1e-3 < np.max(np.abs(ours - ideal)) < 0.1  # the device's errors show, and stay small


def test_the_stock_plugin_under_the_same_backend_agrees_within_five_standard_errors():
    pytest.importorskip("pennylane_qiskit")
    pytest.importorskip("qiskit_ibm_runtime")
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    shots = 20_000
    ours = _flat(qp.QNode(circuit, make_device("aer.shots", N, shots=shots, noise="fake_manila", seed=3))(W))
    plugin = qp.device("qiskit.aer", wires=N, backend=AerSimulator.from_backend(FakeManilaV2()))
    theirs = _flat(qp.set_shots(qp.QNode(circuit, plugin), shots)(W))
    se = np.sqrt(2 * 1.25 / shots)  # two independent estimates, variance <= 1.25 each
    assert np.all(np.abs(ours - theirs) <= 5 * se)


def test_bad_device_noise_is_refused_with_the_allowed_values(ideal_backend):
    with pytest.raises(ValueError, match="has 6 qubits, fewer than the 8 wires"):
        make_device("aer.density", 8, noise=ideal_backend)
    with pytest.raises(ValueError, match="cannot take a noise model"):
        make_device("aer", 2, noise=ideal_backend)
    if importlib.util.find_spec("qiskit_ibm_runtime") is not None:
        with pytest.raises(ValueError, match="unknown fake backend 'fake_nowhere'; allowed: .*fake_manila"):
            make_device("aer.density", 2, noise="fake_nowhere")


def test_a_missing_ibm_extra_is_named(monkeypatch):
    import qhybrid._extras as extras

    real = extras.importlib.import_module

    def no_runtime(name, *args):
        if name.startswith("qiskit_ibm_runtime"):
            raise ImportError("No module named 'qiskit_ibm_runtime'", name="qiskit_ibm_runtime")
        return real(name, *args)

    monkeypatch.setattr(extras.importlib, "import_module", no_runtime)
    with pytest.raises(ImportError, match=r"pip install 'qhybrid\[ibm\]'"):
        make_device("aer.density", 2, noise="fake_manila")
