"""Mid-circuit measurements (``qml.measure``, ``qml.cond``) on the Aer devices: deferred as default.mixed
does, values and gradients equal to default.qubit, other MCM methods refused with the one that runs."""

import numpy as np
import pennylane as qp
import pytest
from pennylane import numpy as pnp

DEVICES = ["qhybrid.aer", "qhybrid.aer.mixed"]


def _conditional(dev):
    @qp.qnode(dev)
    def circuit(a, b):
        qp.RY(a, wires=0)
        m = qp.measure(0)
        qp.cond(m, qp.RX)(b, wires=1)
        qp.cond(~m, qp.Hadamard)(wires=1)
        return qp.expval(qp.Z(1)), qp.expval(m), qp.probs(op=m)

    return circuit


def test_the_newcomers_circuit_gives_default_qubits_zero():
    """The circuit of the issue: H, a measurement, a conditional X; <Z_1> is 0 on default.qubit."""
    for name in DEVICES:

        @qp.qnode(qp.device(name, wires=2))
        def circuit():
            qp.Hadamard(0)
            qp.cond(qp.measure(0), qp.X)(1)
            return qp.expval(qp.Z(1))

        assert abs(float(circuit())) < 1e-12, name


@pytest.mark.parametrize("name", DEVICES)
def test_values_and_gradients_of_a_conditional_circuit_equal_default_qubit(name):
    a, b = pnp.array(0.7, requires_grad=True), pnp.array(-1.3, requires_grad=True)
    # measurement statistics of m keep wire 0 and need a spare one, on default.qubit too
    ours, ref = _conditional(qp.device(name, wires=3)), _conditional(qp.device("default.qubit", wires=3))
    for got, want in zip(ours(a, b), ref(a, b), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)

    def z(circuit):
        return lambda a, b: circuit(a, b)[0]

    for got, want in zip(qp.grad(z(ours))(a, b), qp.grad(z(ref))(a, b), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_a_reset_uses_a_spare_wire_as_on_default_qubit():
    def make(dev):
        @qp.qnode(dev)
        def circuit(a):
            qp.RX(a, wires=0)
            m = qp.measure(0, reset=True)
            qp.cond(m, qp.X)(1)
            qp.RY(0.4, wires=0)
            return qp.expval(qp.Z(0)), qp.expval(qp.Z(1))

        return circuit

    want = make(qp.device("default.qubit", wires=3))(0.9)
    got = make(qp.device("qhybrid.aer", wires=3))(0.9)
    np.testing.assert_allclose(got, want, atol=1e-12)
    with pytest.raises(qp.wires.WireError, match="wires not found on the device"):
        make(qp.device("qhybrid.aer", wires=2))(0.9)  # no spare wire: as default.qubit says


def test_shots_sample_the_deferred_circuit():
    dev = qp.device("qhybrid.aer", wires=3, seed=7)
    circuit = qp.set_shots(_conditional(dev), shots=4000)
    values = circuit(0.7, -1.3)
    exact = _conditional(qp.device("default.qubit", wires=3))(0.7, -1.3)
    for got, want in zip(values, exact, strict=True):  # <Z_1>, <m> and the probabilities of m
        np.testing.assert_allclose(got, want, atol=0.06)  # 4 sigma of 4000 shots


@pytest.mark.parametrize("method", ["one-shot", "tree-traversal"])
def test_other_mcm_methods_are_refused_with_the_one_that_runs(method):
    dev = qp.device("qhybrid.aer", wires=2)

    @qp.qnode(dev, mcm_method=method, shots=10)
    def circuit():
        qp.Hadamard(0)
        qp.cond(qp.measure(0), qp.X)(1)
        return qp.expval(qp.Z(1))

    with pytest.raises(qp.exceptions.DeviceError, match="mcm_method='deferred', not '" + method):
        circuit()


def test_postselection_is_refused():
    @qp.qnode(qp.device("qhybrid.aer", wires=2))
    def circuit():
        qp.Hadamard(0)
        qp.measure(0, postselect=1)
        return qp.expval(qp.Z(1))

    with pytest.raises(ValueError, match="[Pp]ostselect"):
        circuit()
