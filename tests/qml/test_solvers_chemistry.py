"""Molecules in their own electron-number and spin sector, and VQE to chemical accuracy, against references
computed by a second route: the whole qubit Hamiltonian diagonalised densely, its eigenstates filtered by
PennyLane's own particle-number and total-spin operators."""

import numpy as np
import pennylane as qp
import pytest

from qhybrid.qml.solvers import VQE, h2, h3_plus, heh_plus, lih, molecule
from qhybrid.qml.solvers.sectors import sector_states
from qhybrid.qml.solvers.vqe import excitations


def _reference(problem, multiplicity: int) -> float:
    """Lowest eigenvalue of the full matrix among eigenvectors with the problem's electron count and
    ``S^2 = S (S + 1)`` (degenerate eigenspaces rotated to diagonalise ``S^2``)."""
    n = problem.n_qubits
    h = problem.hamiltonian.sparse_matrix(wire_order=range(n)).toarray()
    number = qp.matrix(qp.qchem.particle_number(n), wire_order=range(n))
    spin2 = qp.matrix(qp.qchem.spin2(problem.n_electrons, n), wire_order=range(n))
    values, vectors = np.linalg.eigh(h + 1e-3 * spin2 + 1e-5 * number)  # splits degenerate sectors
    s = (multiplicity - 1) / 2
    for k in range(values.size):
        v = vectors[:, k]
        if (
            abs(np.vdot(v, number @ v) - problem.n_electrons) < 1e-6
            and abs(np.vdot(v, spin2 @ v) - s * (s + 1)) < 1e-6
        ):
            return float(np.real(np.vdot(v, h @ v)))
    raise AssertionError("no eigenstate in the sector")


def test_h3_plus_exact_energy_is_the_two_electron_singlet_not_the_whole_spaces_minimum():
    problem = h3_plus()
    whole = np.linalg.eigvalsh(problem.sparse_matrix().toarray())[0]
    assert problem.exact_energy() == pytest.approx(_reference(problem, 1), abs=1e-10)
    assert problem.exact_energy() - whole > 0.03  # the whole space's minimum is the neutral H3 (3 electrons)
    res = VQE().solve(problem)
    assert abs(res.error) < 1e-6 and res.converged


@pytest.mark.parametrize(
    "build, multiplicity",
    [
        (heh_plus, 1),
        (lambda: molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.74]], mult=3), 3),
        (lambda: molecule(["H", "H", "H"], [[0, 0, 0], [0, 0, 0.9], [0, 0, 1.8]], mult=2), 2),
        (lambda: molecule(["H"] * 4, [[0, 0, 0], [0, 0, 0.9], [0, 0, 1.8], [0, 0, 2.7]], mult=3), 3),
    ],
    ids=["HeH+", "H2 triplet", "H3 doublet", "H4 triplet"],
)
def test_charges_and_open_shells_equal_a_dense_diagonalisation(build, multiplicity):
    problem = build()
    assert problem.multiplicity == multiplicity
    assert problem.exact_energy() == pytest.approx(_reference(problem, multiplicity), abs=1e-9)
    bits = problem.hf_state
    up, down = bits[0::2].sum(), bits[1::2].sum()
    assert up + down == problem.n_electrons and up - down == multiplicity - 1


def test_vqe_reaches_open_shell_ground_states():
    problem = molecule(["H"] * 4, [[0, 0, 0], [0, 0, 0.9], [0, 0, 1.8], [0, 0, 2.7]], mult=3)
    res = VQE().solve(problem)
    assert 0 <= res.error < 1.6e-3 and res.converged


def test_closed_shell_excitations_are_pennylanes():
    for electrons, qubits in [(2, 4), (4, 12), (3, 8)]:
        assert excitations(qp.qchem.hf_state(electrons, qubits)) == tuple(
            qp.qchem.excitations(electrons, qubits)
        )


def test_sector_states_count_the_determinants():
    # 4 electrons, S_z = 0 in 6 spatial orbitals: C(6, 2) ** 2
    assert sector_states(12, 4, 0).size == 225
    assert sector_states(4, 2, 2).tolist() == [0b1010]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mult": 2}, "multiplicity 2 needs 1 unpaired electron and the rest paired \\(allowed: 1, 3\\)"),
        ({"charge": 2}, "H2\\(2\\+\\) has no electrons"),
        ({"charge": 1}, "allowed: 2"),
        (
            {"charge": 1, "mult": 2},
            "1 active electron: its orbitals would come from a closed shell with none",
        ),
        ({"mult": 0}, "mult"),
    ],
)
def test_impossible_charges_and_spins_are_refused_with_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match):
        molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.74]], **kwargs)


def test_lih_on_all_twelve_qubits_reaches_chemical_accuracy_by_default():
    problem = lih(active_electrons=None, active_orbitals=None)
    res = VQE().solve(problem)  # defaults: auto (the torch engine), L-BFGS, adjoint gradients
    assert problem.n_qubits == 12 and res.backend == "torch" and res.optimizer == "lbfgs"
    assert 0 <= res.error < 1.6e-3 and res.converged
    assert problem.hf_energy() - problem.exact_energy() > 0.02  # Hartree-Fock alone is 20 mHa off


def test_the_engine_and_aer_give_the_same_vqe_and_qaoa():
    import networkx as nx

    from qhybrid.qml.solvers import QAOA, MaxCut

    a, b = (VQE("uccsd", backend=name, maxiter=30).solve(lih()) for name in ("torch", "aer"))
    assert a.backend == "torch" and b.backend == "aer"
    np.testing.assert_allclose(a.history, b.history, atol=1e-9)
    problem = MaxCut(nx.cycle_graph(6))
    a, b = (
        QAOA(p=2, backend=name, seed=3, optimizer="adam", maxiter=10).solve(problem)
        for name in ("auto", "aer")
    )
    assert a.backend == "torch" and b.backend == "aer"
    np.testing.assert_allclose(a.history, b.history, atol=1e-9)
    assert a.cost == b.cost and a.probability_optimal == pytest.approx(b.probability_optimal, abs=1e-9)


def test_h2_sector_energy_is_fci():
    assert h2().exact_energy() == pytest.approx(-1.1372701746609042, abs=1e-9)


def test_bad_molecules_and_hamiltonians_are_refused_with_one_line():
    from qhybrid.qml.solvers import HamiltonianProblem, heisenberg

    with pytest.raises(ValueError, match=r"atoms 0 \(H\) and 1 \(H\) are at the same position"):
        molecule(["H", "H"], [[0, 0, 0], [0, 0, 0]])
    with pytest.raises(
        ValueError, match=r"hf_state must be 2 bits \(0 or 1\), one per qubit, got \[1, 0, 1\]"
    ):
        HamiltonianProblem(qp.Z(0) @ qp.Z(1), 2, hf_state=[1, 0, 1], n_electrons=1)
    with pytest.raises(ValueError, match=r"J must be one coupling or three \(J_x, J_y, J_z\), got \(1, 2\)"):
        heisenberg(4, J=(1, 2))


def test_solver_backends_are_checked_before_any_work():
    from qhybrid.qml.solvers import QAOA

    with pytest.raises(
        ValueError, match=r"backend 'torch' is exact and takes no shots; use 'auto' or 'aer.shots'"
    ):
        VQE(backend="torch", shots=100)
    with pytest.raises(ValueError, match=r"backend 'torch.density' runs noisy QuantumLayer models"):
        QAOA(backend="torch.density")
    assert VQE(shots=100).optimizer == "cobyla" and VQE().optimizer == "lbfgs"
