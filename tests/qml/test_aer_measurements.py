"""Measurements beyond Pauli words on the Aer device, against default.qubit (1e-8 exact, 5 sigma with shots).

The classes PennyLane's device suite found missing: observables without a Pauli representation,
``probs(op=...)``, trainable Hamiltonian coefficients, custom state measurements and measurement
transforms, operations known only by their matrix, and the device's name and shots as loaded.
"""

import numpy as np
import pennylane as qp
import pytest
from pennylane import numpy as pnp
from pennylane.measurements import MeasurementTransform, StateMeasurement

from qhybrid.qml.aer import AerDevice, AerMixedDevice

METHODS = ["statevector", "density_matrix", "matrix_product_state"]
HERMITIAN = np.array([[1.0, 0.3 - 0.2j], [0.3 + 0.2j, -0.6]])
SPARSE = qp.SparseHamiltonian(
    qp.Hamiltonian([0.3, 0.7, -0.4], [qp.X(0) @ qp.Y(1), qp.Z(2), qp.X(1) @ qp.X(2)]).sparse_matrix(
        wire_order=[0, 1, 2]
    ),
    wires=[0, 1, 2],
)


def _gates(x):
    qp.RX(x, 0)
    qp.CNOT([0, 1])
    qp.RY(0.4, 2)
    qp.Hadamard(1)
    qp.CRY(0.7, [1, 2])


def _observables():
    return [
        qp.Projector([0, 1], [0, 1]),
        qp.Projector(np.array([1, 1j]) / np.sqrt(2), [2]),
        qp.Hadamard(1),
        qp.Z(0) @ qp.Hermitian(HERMITIAN, 2),
        SPARSE,
    ]


def _both(circuit, method, shots=None, **qnode):
    dev = AerDevice(3, method=method, shots=shots, seed=7)
    ref = qp.device("default.qubit", wires=3)
    return qp.QNode(circuit, dev, **qnode), qp.QNode(circuit, ref, **qnode)


@pytest.mark.parametrize("method", METHODS)
def test_observables_without_pauli_words_match_default_qubit(method):
    def circuit(x, sparse):
        _gates(x)
        return [qp.expval(o) for o in _observables()] + [
            qp.var(qp.Projector([1], [0])),
            qp.var(qp.Z(0) @ qp.Hermitian(HERMITIAN, 2)),
            qp.var(sparse),
        ]

    ours, ref = _both(circuit, method)
    # default.qubit has no variance of a SparseHamiltonian: its dense twin is the reference
    dense = qp.Hermitian(SPARSE.sparse_matrix().toarray(), wires=[0, 1, 2])
    np.testing.assert_allclose(ours(0.37, SPARSE), ref(0.37, dense), atol=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_probs_of_an_observable_and_state_measurements_match_default_qubit(method):
    def circuit(x):
        _gates(x)
        return (
            qp.probs(op=qp.Z(1) @ qp.Y(2)),
            qp.probs(op=qp.Hermitian(HERMITIAN, 0)),
            qp.density_matrix([0, 2]),
            qp.purity([1]),
            qp.vn_entropy([0]),
            qp.mutual_info([0], [2]),
        )

    ours, ref = _both(circuit, method)
    for a, b in zip(ours(0.37), ref(0.37), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-8)


def test_broadcast_inputs_read_every_row_from_its_state():
    def circuit(x):
        _gates(x)
        return qp.expval(SPARSE), qp.probs(op=qp.X(0))

    xs = np.array([0.1, 0.8, 2.0])
    ours, ref = _both(circuit, "statevector")
    for a, b in zip(ours(xs), ref(xs), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-8)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("diff_method", ["parameter-shift", "best"])
def test_gradients_of_non_pauli_measurements_match_default_qubit(method, diff_method):
    x = pnp.array(0.37, requires_grad=True)
    dev = AerDevice(3, method=method)
    ref = qp.device("default.qubit", wires=3)
    ours_qnode = qp.QNode(_measure, dev, diff_method=diff_method)
    ref_qnode = qp.QNode(_measure, ref, diff_method="parameter-shift")
    ours = qp.jacobian(lambda x: qp.math.hstack(ours_qnode(x)))(x)
    theirs = qp.jacobian(lambda x: qp.math.hstack(ref_qnode(x)))(x)
    np.testing.assert_allclose(ours, theirs, atol=1e-8)


def _measure(x):
    _gates(x)
    return [
        qp.expval(qp.Projector([0, 1], [0, 1])),
        qp.probs(op=qp.Z(1) @ qp.Y(2)),
        qp.expval(SPARSE),
        qp.var(qp.Projector([1], [0])),
    ]


@pytest.mark.parametrize("method", ["statevector", "density_matrix"])
def test_small_observables_keep_the_adjoint_path(method):
    """Projector, Hadamard and Hermitian products on few wires are decomposed into Pauli words."""

    def circuit(x):
        _gates(x)
        return qp.expval(qp.Projector([0, 1], [0, 1]) + 0.5 * qp.Hadamard(1) @ qp.Hermitian(HERMITIAN, 2))

    x = pnp.array(0.37, requires_grad=True)
    dev = AerDevice(3, method=method)
    ours = qp.grad(qp.QNode(circuit, dev, diff_method="adjoint"))(x)
    theirs = qp.grad(qp.QNode(circuit, qp.device("default.qubit", wires=3)))(x)
    assert dev.last_gradient_method == "adjoint"
    np.testing.assert_allclose(ours, theirs, atol=1e-8)


@pytest.mark.parametrize("shots", [None, 200_000])
@pytest.mark.parametrize("diff_method", ["parameter-shift", "best"])
def test_trainable_hamiltonian_coefficients_differentiate(shots, diff_method):
    coeffs = pnp.array([-0.05, 0.17, 0.4], requires_grad=True)
    x = pnp.array(1.7, requires_grad=True)

    def circuit(c, x):
        qp.RX(x, 0)
        qp.RY(x, 0)
        qp.CNOT([0, 1])
        return qp.expval(qp.Hamiltonian(c, [qp.X(0), qp.Z(0), qp.Z(0) @ qp.Y(1)])), qp.expval(qp.Z(1))

    def cost(qnode):
        return lambda c, x: qp.math.hstack(qnode(c, x))

    dev = AerDevice(2, shots=shots, seed=3)
    ours = qp.jacobian(cost(qp.QNode(circuit, dev, diff_method=diff_method)))(coeffs, x)
    theirs = qp.jacobian(cost(qp.QNode(circuit, qp.device("default.qubit", wires=2))))(coeffs, x)
    # each entry is an expectation value of a Pauli word (|.| <= 1) or a shift-rule difference of two
    tol = 1e-8 if shots is None else 5 * 2 / np.sqrt(shots)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=tol)


def test_a_trainable_coefficient_of_a_variance_is_refused_by_name():
    coeffs = pnp.array([0.3, 0.5], requires_grad=True)

    @qp.qnode(AerDevice(1), diff_method="parameter-shift")
    def circuit(c):
        qp.RX(0.3, 0)
        return qp.var(qp.Hamiltonian(c, [qp.X(0), qp.Z(0)]))

    with pytest.raises(ValueError, match="cannot differentiate parameter 0 of the observable of var"):
        qp.grad(circuit)(coeffs)


def test_differentiating_a_state_is_refused_by_name():
    @qp.qnode(AerDevice(1), diff_method="parameter-shift")
    def circuit(x):
        qp.RX(x, 0)
        return qp.purity([0])

    with pytest.raises(ValueError, match="cannot differentiate purity"):
        qp.grad(circuit)(pnp.array(0.3, requires_grad=True))


@pytest.mark.parametrize("method", ["statevector", "density_matrix"])
def test_non_pauli_observables_with_shots_within_five_sigma(method):
    shots = 100_000

    def circuit(x):
        _gates(x)
        return (
            qp.expval(qp.Projector([0, 1], [0, 1])),
            qp.expval(qp.Hadamard(1)),
            qp.expval(qp.Z(0) @ qp.Hermitian(HERMITIAN, 2)),
            qp.var(qp.Hermitian(HERMITIAN, 2)),
        )

    dev = AerDevice(3, method=method, shots=shots, seed=11)
    got = qp.QNode(circuit, dev)(0.37)
    want = qp.QNode(circuit, qp.device("default.qubit", wires=3))(0.37)
    # every observable here has eigenvalues within [-1.2, 1.2]: sigma <= 1.2 / sqrt(shots) (1.44 for var)
    for g, w in zip(got, want, strict=True):
        assert abs(g - w) < 5 * 1.44 / np.sqrt(shots)


def test_samples_of_a_hermitian_are_its_eigenvalues():
    dev = AerDevice(1, shots=500, seed=0)

    @qp.qnode(dev)
    def circuit():
        qp.RY(0.9, 0)
        return qp.sample(qp.Hermitian(HERMITIAN, 0))

    assert set(np.round(circuit(), 10)) <= set(np.round(np.linalg.eigvalsh(HERMITIAN), 10))


def test_custom_state_measurement_and_measurement_transform():
    class Trace(StateMeasurement):
        def process_state(self, state, wire_order):
            return float(np.vdot(state, state).real)

        def process_density_matrix(self, density_matrix, wire_order):
            return float(np.trace(density_matrix).real)

    class Constant(MeasurementTransform):
        def process(self, tape, device):
            return len(tape.operations)

    for dev in (AerDevice(2), AerMixedDevice(2)):
        assert qp.QNode(lambda: (qp.X(0), Trace())[1], dev)() == pytest.approx(1.0)
        assert qp.QNode(lambda: (qp.X(0), qp.Y(1), Constant())[2], dev)() == 2


@pytest.mark.parametrize("method", METHODS)
def test_operations_known_only_by_their_matrix_run(method):
    def circuit():
        qp.Hadamard(0)
        qp.RY(0.3, 2)
        qp.DoubleExcitationPlus(0.4, wires=[0, 1, 2, 3])
        qp.BlockEncode(np.array([[0.1, 0.2], [0.3, 0.4]]), wires=[1, 2])
        return qp.probs(wires=[0, 1, 2, 3])

    ours = qp.QNode(circuit, AerDevice(4, method=method))()
    np.testing.assert_allclose(ours, qp.QNode(circuit, qp.device("default.qubit", wires=4))(), atol=1e-8)


def test_loaded_names_and_shots_follow_pennylane():
    dev = qp.device("qhybrid.aer", wires=2, shots=1234)
    assert dev.name == "qhybrid.aer" and dev.shots == qp.measurements.Shots(1234)
    mixed = qp.device("qhybrid.aer.mixed", wires=2)
    assert isinstance(mixed, AerMixedDevice) and mixed.name == "qhybrid.aer.mixed"

    @qp.qnode(mixed)
    def circuit():
        qp.Hadamard(0)
        return qp.state()

    np.testing.assert_allclose(circuit(), np.kron([[0.5, 0.5], [0.5, 0.5]], [[1, 0], [0, 0]]), atol=1e-12)
    with pytest.raises(ValueError, match="runs the density_matrix method, not 'statevector'"):
        AerMixedDevice(2, method="statevector")
