"""Bad input through the quantum Python API: one clear exception naming the bad value, raised before a
device runs; and the solver defects fixed with them (COBYLA's maxiter, honest evaluation counts, lih()'s
documented active space, the depolarising convention)."""

import networkx as nx
import numpy as np
import pennylane as qp
import pytest
import torch

from qhybrid.qml import NoiseSpec, QuantumLayer
from qhybrid.qml.noise import from_pennylane_depolarizing
from qhybrid.qml.solvers import (
    QAOA,
    VQE,
    MaxCut,
    check_active_space,
    h2,
    heisenberg,
    lih,
    molecule,
    transverse_field_ising,
)


def _layer(**kwargs):
    return QuantumLayer(kwargs.pop("n_inputs", 2), backend="default", n_layers=1, **kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_qubits": "4"}, TypeError, r"n_qubits must be an integer >= 1 or None, got str '4'"),
        ({"n_qubits": 0}, ValueError, r"n_qubits must be >= 1, got 0"),
        ({"n_inputs": True}, TypeError, r"n_inputs must be an integer >= 1, got bool True"),
        ({"entangling": "no"}, TypeError, r"entangling must be True or False, got str 'no'"),
        ({"seed": -1}, ValueError, r"seed must be in 0..4294967295, got -1"),
        ({"seed": 0.5}, TypeError, r"seed must be an integer in 0..4294967295 or None, got 0.5"),
        ({"shots": 0}, ValueError, r"shots must be >= 1, got 0"),
        ({"diff_method": "finite"}, ValueError, r"unknown diff_method 'finite'; allowed: best, adjoint"),
        ({"diff_method": 3}, TypeError, r"diff_method must be a name, None or a gradient transform, got 3"),
        ({"weights_per_wire": 0}, ValueError, r"weights_per_wire must be >= 1, got 0"),
        (
            {"embedding": ["angle"]},
            TypeError,
            r"embedding must be a name or a callable .*got list \['angle'\]",
        ),
        ({"ansatz": 2}, TypeError, r"ansatz must be a name or a callable .*got 2"),
    ],
)
def test_quantum_layer_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _layer(**kwargs)


def test_amplitude_embedding_refuses_all_zero_rows():
    layer = _layer(n_inputs=4, embedding="amplitude")
    x = torch.ones(3, 4)
    x[1] = 0
    with pytest.raises(
        ValueError, match=r"amplitude embedding cannot normalise 1 input row.*all 0 \(first row 1\)"
    ):
        layer(x)
    assert torch.isfinite(layer(torch.ones(2, 4))).all()


def test_gradient_transform_is_still_accepted():
    layer = _layer(diff_method=qp.gradients.param_shift)
    assert layer(torch.zeros(1, 2)).shape == (1, 2)


@pytest.mark.parametrize(
    "spec, exc, match",
    [
        (
            {"readout": "high"},
            TypeError,
            r"noise readout must be a finite number in \[0, 0.5\], got str 'high'",
        ),
        ({"depolarizing_2q": -0.1}, ValueError, r"noise depolarizing_2q must be in \[0, 1\], got -0.1"),
        (
            {"depolarizing_1q": float("nan")},
            ValueError,
            r"noise depolarizing_1q must be a finite number, got nan",
        ),
        ({"t1": float("nan"), "t2": 1e-6}, ValueError, r"noise t1 must be a finite number, got nan"),
        ({"t1": 1e-6, "t2": float("nan")}, ValueError, r"noise t2 must be a finite number, got nan"),
        ({"t1": "1e-6", "t2": 1e-6}, TypeError, r"noise t1 must be .*got str '1e-6'"),
        ({"gate_time_1q": 0}, ValueError, r"noise gate_time_1q must be > 0, got 0"),
    ],
)
def test_noise_spec_values(spec, exc, match):
    with pytest.raises(exc, match=match):
        NoiseSpec(**spec)


def test_pennylane_depolarising_convention():
    """PennyLane's DepolarizingChannel(q) shrinks <Z> by 1 - 4q/3; NoiseSpec's p (Qiskit's) by 1 - p."""
    q = 0.06
    dev = qp.device("default.mixed", wires=1)

    @qp.qnode(dev)
    def z_after_channel():
        qp.DepolarizingChannel(q, wires=0)
        return qp.expval(qp.Z(0))

    p = from_pennylane_depolarizing(q)
    assert float(z_after_channel()) == pytest.approx(1 - p)
    assert NoiseSpec(depolarizing_1q=p).depolarizing_1q == pytest.approx(0.08)
    with pytest.raises(
        ValueError, match=r"PennyLane depolarizing probability q must be in \[0, 0.75\], got 0.9"
    ):
        from_pennylane_depolarizing(0.9)
    assert "PennyLane" in NoiseSpec.__doc__ and "(1-p)" in NoiseSpec.__doc__


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: QAOA(seed=-1), ValueError, r"seed must be in 0..4294967295, got -1"),
        (lambda: QAOA(seed=0.5), TypeError, r"seed must be an integer in 0..4294967295 or None, got 0.5"),
        (lambda: VQE(seed=-1), ValueError, r"seed must be in 0..4294967295, got -1"),
        (lambda: VQE(seed="1"), TypeError, r"seed must be an integer in 0..4294967295 or None, got str '1'"),
        (lambda: VQE(maxiter=0), ValueError, r"maxiter must be >= 1, got 0"),
        (lambda: VQE(tol=float("inf")), ValueError, r"tol must be a finite number, got inf"),
        (lambda: QAOA(stepsize="0.1"), TypeError, r"stepsize must be a finite number > 0, got str '0.1'"),
        (lambda: QAOA(n_samples=True), TypeError, r"n_samples must be an integer >= 1, got bool True"),
        (lambda: h2("0.74"), TypeError, r"bond_length must be a finite number > 0, got str '0.74'"),
        (lambda: h2(float("nan")), ValueError, r"bond_length must be a finite number, got nan"),
        (lambda: lih(-1.0), ValueError, r"bond_length must be > 0, got -1.0"),
        (lambda: transverse_field_ising(3, J="1"), TypeError, r"J must be a finite number, got str '1'"),
        (lambda: transverse_field_ising(30), ValueError, r"n_sites must be in 2..24, got 30"),
        (lambda: heisenberg(3, J=(1.0, np.nan, 1.0)), ValueError, r"Jy must be a finite number, got nan"),
        (lambda: heisenberg(3, periodic="yes"), TypeError, r"periodic must be True or False, got str 'yes'"),
        (
            lambda: molecule(["Xx", "H"], [[0, 0, 0], [0, 0, 1.0]]),
            ValueError,
            r"molecule \['Xx', 'H'\]: .*Xx",
        ),
        (
            lambda: molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.7]], charge=0.5),
            TypeError,
            r"charge must be an integer, got 0.5",
        ),
    ],
)
def test_solver_and_problem_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


class _Mol:  # what check_active_space reads of a qchem Molecule: LiH in STO-3G
    n_electrons, n_orbitals = 4, 6


@pytest.mark.parametrize(
    "electrons, orbitals, match",
    [
        (5, 3, r"active_electrons must be in 1..4, got 5"),
        (2, 7, r"active_orbitals must be in 1..6, got 7"),
        (3, 3, r"active_electrons=3 leaves 1 core electrons of 4; the core must hold whole pairs"),
        (4, 1, r"active space of 4 electrons in 1 orbitals does not fit"),
        (2, 6, r"active space of 2 electrons in 6 orbitals does not fit.*active_orbitals <= 5"),
    ],
)
def test_impossible_active_spaces(electrons, orbitals, match):
    with pytest.raises(ValueError, match=match):
        check_active_space(_Mol(), electrons, orbitals)
    check_active_space(_Mol(), 2, 3)  # lih()'s default


def test_lih_default_active_space_is_in_the_first_docstring_line():
    first = lih.__doc__.strip().splitlines()[0]
    assert "6 qubits" in first and "12-qubit" in first


# ------------------------------------------------------------------------------------ maxiter is honest


def test_vqe_cobyla_maxiter_below_scipys_minimum_is_a_hard_limit():
    # 16 parameters: scipy's COBYLA would raise maxiter=3 to 18 evaluations (and warn)
    vqe = VQE("hardware_efficient", n_layers=2, backend="default", maxiter=3, seed=0)
    res = vqe.solve(transverse_field_ising(4))
    assert res.n_params == 16
    assert len(res.history) == 3
    assert res.n_cost_evaluations == 4  # three by COBYLA, one at the returned parameters
    assert res.energy <= res.history[0] + 1e-12
    assert res.n_evaluations >= res.n_cost_evaluations  # circuits on the device


def test_qaoa_reports_energy_evaluations_per_depth():
    res = QAOA(p=2, backend="default", maxiter=3, init="interp", seed=1).solve(MaxCut(nx.cycle_graph(4)))
    # depth 1: 3 COBYLA evaluations + 1 final; depth 2: the same
    assert len(res.history) == 6 and res.n_cost_evaluations == 8
    assert [d.p for d in res.depths] == [1, 2]


def test_spsa_and_adam_count_their_energies():
    res = QAOA(p=1, backend="default", optimizer="spsa", maxiter=4, seed=0).solve(MaxCut(nx.path_graph(3)))
    assert res.n_cost_evaluations == 2 * 4 + 1 + 1
    res = QAOA(p=1, backend="default", optimizer="adam", maxiter=2, seed=0).solve(MaxCut(nx.path_graph(3)))
    assert res.n_cost_evaluations <= 2 + 1 + 1


def test_make_device_refuses_a_bad_seed_repeated_wires_and_negative_threads():
    from qhybrid.classical.validation import ArgumentTypeError
    from qhybrid.qml import make_device

    with pytest.raises(
        ArgumentTypeError, match=r"seed must be an integer in 0..4294967295 or None, got str 'abc'"
    ):
        make_device("aer", 2, seed="abc")
    with pytest.raises(ValueError, match=r"the label 'a' appears twice; wire labels must be unique"):
        make_device("aer", ["a", "a"])
    with pytest.raises(ValueError, match=r"max_parallel_threads must be >= 0, got -3"):
        make_device("aer", 2, max_parallel_threads=-3)


@pytest.mark.parametrize("backend", ["aer", "default", "torch"])
def test_an_empty_batch_gives_an_empty_result_on_every_backend(backend):
    import torch

    from qhybrid.qml import QuantumLayer

    layer = QuantumLayer(3, backend=backend, seed=0)
    out = layer(torch.zeros(0, 3))
    out.sum().backward()
    assert out.shape == (0, 3) and float(layer.weights.grad.abs().sum()) == 0.0
