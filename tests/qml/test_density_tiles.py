"""The wide density engine's compiled passes: one-qubit stages as tile passes (density_singles), gathers
composed and applied in one pass, the product state by halves; against plain numpy and torch autograd."""

import numpy as np
import pennylane as qp
import pytest
import torch

from qhybrid.qml.engine import (
    DensityCircuit,
    density_call,
    density_gather,
    density_loop_call,
    density_singles,
)
from qhybrid.qml.engine.density_gather import Gather
from qhybrid.qml.engine.density_singles import Singles, max_digits, split
from qhybrid.qml.noise import NoiseSpec, noise_model

pytestmark = pytest.mark.skipif(
    not density_loop_call.available(), reason="numba is not installed (qhybrid[fast])"
)


def _reference(x, mats, wires, n):
    """Each ``(R, 4, 4)`` matrix on its wire's digit of the ``(4**n, B)`` coefficients, with torch (autograd)."""
    rows = x.shape[1]
    y = x.reshape([4] * n + [rows])
    for i, w in enumerate(wires):
        m = mats[i].expand(rows, 4, 4)
        y = torch.movedim(torch.einsum("rab,...br->...ar", m, torch.movedim(y, w, -2)), -2, w)
    return y.reshape(4**n, rows)


@pytest.mark.parametrize(
    "n, rows, per_row, wires",
    [
        (3, 2, False, (0, 1, 2)),
        (5, 3, True, (0, 2, 4)),  # digits without a matrix inside a group
        (6, 8, True, (0, 1, 2, 3, 4, 5)),
        (7, 1, False, (1, 2, 6)),
        (8, 5, True, tuple(range(8))),  # several groups, a row count that is no power of two
        (8, 64, False, (3, 4, 7)),
    ],
)
def test_singles_forward_and_backward_equal_autograd(n, rows, per_row, wires):
    rng = np.random.default_rng(n * 100 + rows)
    x = rng.normal(size=(4**n, rows))
    mats = rng.normal(size=(len(wires), rows if per_row else 1, 4, 4)) / 2
    cot = rng.normal(size=(4**n, rows))
    step = Singles(wires, n)
    xt, mt = torch.tensor(x, requires_grad=True), torch.tensor(mats, requires_grad=True)
    expected = _reference(xt, mt, wires, n)
    (expected * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(step.apply(x, mats), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        step.apply(x, mats, transpose=True),
        _reference(torch.tensor(x), torch.tensor(mats).transpose(-1, -2), wires, n).numpy(),
        rtol=1e-12,
        atol=1e-12,
    )
    new_cot, grad = step.backward(x, cot.copy(), mats)
    np.testing.assert_allclose(new_cot, xt.grad.numpy(), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(grad, mt.grad.numpy(), rtol=1e-11, atol=1e-10)
    # the same on torch tensors (the fallback: one wire after the other)
    t_cot, t_grad = step.backward(torch.tensor(x), torch.tensor(cot), torch.tensor(mats))
    np.testing.assert_allclose(t_cot.numpy(), xt.grad.numpy(), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(t_grad.numpy(), mt.grad.numpy(), rtol=1e-11, atol=1e-10)


def test_groups_cover_every_wire_once_within_the_widest():
    for widest in (1, 2, 3, 5):
        for wires in [(0, 1, 2, 3, 4, 5, 6), (0, 3, 4, 9), (2,), (1, 5, 6, 7, 8, 11)]:
            groups = split(wires, widest)
            covered = [w for first, k in groups for w in range(first, first + k) if w in wires]
            assert sorted(covered) == list(wires)
            assert all(1 <= k <= widest for _, k in groups)
    assert split(tuple(range(12)), 5) == [(0, 4), (4, 4), (8, 4)]  # even widths, not 5 + 5 + 2
    assert max_digits(1) > max_digits(8)  # per-row tiles hold each row's columns apart


def test_a_compiled_gather_equals_the_array_one():
    rng = np.random.default_rng(3)
    n = 5
    cnot = np.zeros((16, 16))
    # a CNOT's Pauli transfer matrix is a signed permutation: take it from the density plan's items
    from qhybrid.qml.engine.superops import fixed_gate, ptm

    cnot = ptm([fixed_gate("cx")])
    flip = np.diag([1.0, 1.0, -0.8, -0.8])  # a bit-flip-like diagonal channel on one qubit
    members = [((0, 1), cnot), ((3,), flip), ((4, 2), cnot), ((1, 3), cnot)]
    compiled, plain = density_gather._compiled_tables(members, n), density_gather._tables(members, n)
    for a, b in zip(compiled, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    gather = Gather(members, n)
    x = rng.normal(size=(4**n, 3))
    index, factor, inverse, inverse_factor = plain
    np.testing.assert_array_equal(gather.apply(x, "numpy"), factor[:, None] * x[index])
    np.testing.assert_array_equal(
        gather.apply(x, "numpy", transpose=True), inverse_factor[:, None] * x[inverse]
    )


@pytest.mark.parametrize("rows", [1, 3])
def test_the_product_state_and_its_gradient_by_halves_equal_autograd(rows):
    rng = np.random.default_rng(rows)
    n, batch = 5, 3
    v = torch.tensor(rng.normal(size=(rows, n, 4)), requires_grad=True)
    cot = rng.normal(size=(4**n, batch))
    state = density_call.product_state(v.detach().numpy(), batch)
    expected = v[:, 0]
    for w in range(1, n):
        expected = (expected[:, :, None] * v[:, w, None, :]).reshape(rows, -1)
    expected = expected.T.expand(4**n, batch)
    np.testing.assert_allclose(state, expected.detach().numpy(), rtol=1e-13)
    (expected * torch.tensor(cot)).sum().backward()
    grad = density_call.product_state_gradient(v.detach().numpy(), cot)
    np.testing.assert_allclose(grad, v.grad.numpy(), rtol=1e-12, atol=1e-12)


def _reuploading(n: int):
    """Inputs in the middle of the circuit: the one-qubit stages between the CNOT rings differ per row."""

    def fn(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        for layer in range(2):
            for i in range(n):
                qp.Rot(*w[layer, i], wires=i)
                qp.RY(x[..., i], wires=i)
            for i in range(n):
                qp.CNOT([i, (i + 1) % n])
        return [qp.expval(qp.Z(i)) for i in range(n)]

    return fn


@pytest.mark.parametrize("relaxation", [False, True])
def test_tile_passes_equal_the_array_passes_in_a_whole_circuit(monkeypatch, relaxation):
    """A 6-qubit data re-uploading layer under noise: the values and both gradients with the compiled passes
    equal those of the array passes (and under depolarising noise the plan did merge the one-qubit stages)."""
    n = 6
    spec = (
        NoiseSpec(t1=5e-6, t2=4e-6, gate_time_1q=5e-8, gate_time_2q=3e-7)
        if relaxation
        else NoiseSpec(depolarizing_1q=0.02, depolarizing_2q=0.05)
    )
    monkeypatch.setattr(density_loop_call, "LOOP_COEFFICIENTS", 0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, n, dtype=torch.float64, generator=g) * 3
    w = torch.rand(2, n, 3, dtype=torch.float64, generator=g) * 3
    cot = torch.randn(3, n, dtype=torch.float64, generator=g)

    def run():
        circuit = DensityCircuit(_reuploading(n), n, n, (2, n, 3), noise_model=noise_model(spec))
        xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = circuit(xi, wi)
        (out * cot).sum().backward()
        return circuit, [out.detach(), xi.grad, wi.grad]

    tiled, with_tiles = run()
    # relaxation keeps each CNOT with its error as a dense pass that takes the one-qubit items before it
    assert any(isinstance(step, Singles) for step in tiled.layout.steps) != relaxation
    monkeypatch.setattr(density_singles, "available", lambda: False)
    monkeypatch.setattr(density_gather, "compiled", lambda: False)
    plain, without = run()
    assert not any(isinstance(step, Singles) for step in plain.layout.steps)
    for a, b in zip(with_tiles, without, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-12)
