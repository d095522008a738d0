"""Programs handed to Aer's core directly (qml/aer/program.py) give what AerSimulator.run gives, and the
device falls back to AerSimulator.run when the direct call is unavailable or refused."""

import numpy as np
import pennylane as qp
import pytest
from qiskit_aer import AerSimulator

from qhybrid.qml.aer import AerDevice, program
from qhybrid.qml.aer.program import AerProgram


def _random_program(rng, n: int = 5) -> AerProgram:
    state = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    prog = AerProgram(n)
    prog.set_statevector(state / np.linalg.norm(state))
    for q in range(n):
        prog.gate("h", (q,))
        prog.gate("rz", (q,), (rng.uniform(-3, 3),))
    prog.gate("u", (1,), rng.uniform(-3, 3, size=3))
    prog.gate("cx", (0, 3))
    prog.gate("rzz", (2, 4), (0.7,))
    prog.gate("sdg", (2,))
    prog.diagonal([0, 2, 4], np.exp(1j * rng.uniform(-3, 3, size=8)))
    prog.save_probabilities([3, 1], "P0")
    prog.gate("ry", (4,), (-1.1,))
    prog.save_statevector("psi")
    return prog


def test_direct_execution_equals_aer_simulator_run():
    rng = np.random.default_rng(3)
    programs = [_random_program(rng), _random_program(rng)]
    simulator = AerSimulator(method="statevector", precision="double")
    assert program.direct_available(simulator)
    direct = program.execute(simulator, programs)
    result = simulator.run([p.to_qiskit() for p in programs], shots=1).result()
    for i, data in enumerate(direct):
        np.testing.assert_allclose(np.asarray(data["psi"]), np.asarray(result.data(i)["psi"]), atol=1e-14)
        np.testing.assert_allclose(np.asarray(data["P0"]), np.asarray(result.data(i)["P0"]), atol=1e-14)
    assert np.asarray(direct[0]["P0"]).shape == (4,)


def _layer_step(dev, x, w):
    @qp.qnode(dev, diff_method="adjoint", device_vjp=True)
    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(3))
        qp.StronglyEntanglingLayers(w, wires=range(3))
        return [qp.expval(qp.Z(i)) for i in range(3)]

    import torch

    w = torch.tensor(w, requires_grad=True)
    out = torch.stack(list(circuit(torch.tensor(x), w)), dim=-1)
    out.sum().backward()
    return out.detach().numpy(), w.grad.numpy()


def _counting(monkeypatch) -> list:
    calls = []
    execute = program.execute

    def counted(simulator, programs, options=None):
        calls.append((len(programs), options))
        return execute(simulator, programs, options)

    monkeypatch.setattr(program, "execute", counted)
    return calls


def test_device_results_are_the_same_on_both_paths(monkeypatch):
    rng = np.random.default_rng(0)
    x, w = rng.uniform(0, 3, size=(6, 3)), rng.uniform(-3, 3, size=(2, 3, 3))
    calls = _counting(monkeypatch)
    direct_dev = AerDevice(3)
    out_d, grad_d = _layer_step(direct_dev, x, w)
    # one forward, one reversed experiment, both direct; the reversed one without gate fusion
    assert calls == [(1, {}), (1, {"fusion_enable": False})]
    monkeypatch.setattr(program, "AerCircuit", None)  # as an Aer whose compiler module lacks it
    qiskit_dev = AerDevice(3)
    out_q, grad_q = _layer_step(qiskit_dev, x, w)
    assert len(calls) == 2 and qiskit_dev.aer_calls == 2
    out_ref, grad_ref = _layer_step(qp.device("default.qubit"), x, w)
    np.testing.assert_allclose(out_d, out_q, atol=1e-12)
    np.testing.assert_allclose(grad_d, grad_q, atol=1e-12)
    np.testing.assert_allclose(out_d, out_ref, atol=1e-10)
    np.testing.assert_allclose(grad_d, grad_ref, atol=1e-10)


def test_a_refused_direct_call_falls_back_once_with_a_warning(monkeypatch):
    def refuse(*args, **kwargs):
        raise TypeError("incompatible function arguments")

    monkeypatch.setattr(program, "generate_aer_config", refuse)  # as an Aer whose compiler API changed
    calls = _counting(monkeypatch)
    dev = AerDevice(3)
    rng = np.random.default_rng(1)
    x, w = rng.uniform(0, 3, size=(4, 3)), rng.uniform(-3, 3, size=(2, 3, 3))
    with pytest.warns(RuntimeWarning, match="through AerSimulator.run"):
        out, grad = _layer_step(dev, x, w)
    assert len(calls) == 1  # refused once, then this device runs through AerSimulator.run
    out_ref, grad_ref = _layer_step(qp.device("default.qubit"), x, w)
    np.testing.assert_allclose(out, out_ref, atol=1e-10)
    np.testing.assert_allclose(grad, grad_ref, atol=1e-10)


def test_fusion_set_by_the_user_is_kept_in_the_reversed_experiment(monkeypatch):
    calls = _counting(monkeypatch)
    dev = AerDevice(3, fusion_enable=True)
    rng = np.random.default_rng(2)
    x, w = rng.uniform(0, 3, size=(4, 3)), rng.uniform(-3, 3, size=(2, 3, 3))
    out, grad = _layer_step(dev, x, w)
    assert calls == [(1, {}), (1, {})]
    out_ref, grad_ref = _layer_step(qp.device("default.qubit"), x, w)
    np.testing.assert_allclose(grad, grad_ref, atol=1e-10)
