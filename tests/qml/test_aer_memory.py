"""The memory guard: budgets forced small make the device fall back to leaner layouts, or refuse with numbers."""

import numpy as np
import pennylane as qp
import pytest
import torch
from pennylane import numpy as pnp

from qhybrid.qml import QuantumLayer
from qhybrid.qml.aer import AerDevice, InsufficientMemoryError, MemoryBudget


def _circuit(n):
    def circuit(x, w):
        qp.AngleEmbedding(x, wires=range(n))
        qp.StronglyEntanglingLayers(w, wires=range(n))
        return [qp.expval(qp.Z(i)) for i in range(n)]

    return circuit


def _values_and_jacobian(dev, n, x, w):
    q = qp.QNode(_circuit(n), dev, diff_method="best")
    return qp.math.stack(q(x, w)), qp.jacobian(lambda w: qp.math.stack(q(x, w)))(w)


def test_defaults_follow_available_memory():
    budget = MemoryBudget.default(available=8 * 2**30)
    assert budget.available == 8 * 2**30 and budget.adjoint == 2 * 2**30
    assert MemoryBudget.default(available=2**30).adjoint == 2**28
    assert budget.joint_budget() == budget.joint
    assert MemoryBudget.default(available=2**20).joint_budget() == 2**18


def test_small_budgets_fall_back_and_still_agree_with_default_qubit():
    n = 3
    rng = np.random.default_rng(0)
    x = rng.uniform(0, np.pi, (6, n))
    w = pnp.array(rng.uniform(0, 2 * np.pi, (2, n, 3)), requires_grad=True)
    want = _values_and_jacobian(qp.device("default.qubit", wires=n), n, x, w)

    lean = AerDevice(n)
    lean.memory.joint = 2 * 3 * 16 * 2**n  # two rows per joint experiment: three experiments for six rows
    qp.QNode(_circuit(n), lean)(x, w)
    assert lean.aer_calls == 3
    got = _values_and_jacobian(lean, n, x, w)
    assert lean.last_gradient_method == "adjoint"
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-10)

    no_adjoint = AerDevice(n)
    no_adjoint.memory.adjoint = 1  # not even one row's saved states: parameter shift
    got = _values_and_jacobian(no_adjoint, n, x, w)
    assert no_adjoint.last_gradient_method == "parameter-shift"
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-10)


def test_a_layer_reports_the_fall_back():
    layer = QuantumLayer(3, n_layers=1, backend="aer", seed=0)
    layer.device.memory.adjoint = 1
    layer(torch.rand(4, 3, dtype=torch.float64)).sum().backward()
    assert layer.device.last_gradient_method == "parameter-shift" and layer.weights.grad is not None


@pytest.mark.parametrize("method, per_state", [("statevector", 16 * 2**6), ("density_matrix", 16 * 4**6)])
def test_a_job_that_cannot_fit_is_refused_with_the_numbers(method, per_state):
    dev = AerDevice(6, method=method)
    dev.memory.available = per_state  # one state fits, but not the copy Aer hands back

    @qp.qnode(dev)
    def circuit():
        qp.Hadamard(0)
        return qp.expval(qp.Z(0))

    kind = "density matrix" if method == "density_matrix" else "statevector"
    with pytest.raises(InsufficientMemoryError, match=f"needs a 6-qubit {kind}"):
        circuit()
    assert dev.aer_calls == 0  # refused before Aer allocated anything
    dev.memory.available = 2 * per_state
    assert circuit() == pytest.approx(0.0, abs=1e-12)


def _tree(tmp_path, files: dict[str, str], self_cgroup: str) -> tuple[str, str]:
    for rel, text in files.items():
        path = tmp_path / "cg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "self_cgroup"
    proc.write_text(self_cgroup)
    return str(tmp_path / "cg"), str(proc)


def test_the_cgroup_limit_bounds_available_memory(tmp_path, monkeypatch):
    from qhybrid.qml.aer import memory

    gib = 2**30
    # cgroup v2: the process's own group, 1.5 GiB limit with 0.5 GiB used
    root, proc = _tree(
        tmp_path,
        {"job/memory.max": str(3 * gib // 2), "job/memory.current": str(gib // 2)},
        "0::/job\n",
    )
    assert memory.cgroup_headroom(root, proc) == gib
    # v2 without a limit, v1 with one (2 GiB, 0.25 GiB used) in the process's memory group
    root, proc = _tree(
        tmp_path / "b",
        {
            "memory.max": "max",
            "memory.current": "5",
            "memory/slurm/job1/memory.limit_in_bytes": str(2 * gib),
            "memory/slurm/job1/memory.usage_in_bytes": str(gib // 4),
        },
        "4:memory:/slurm/job1\n0::/\n",
    )
    assert memory.cgroup_headroom(root, proc) == 2 * gib - gib // 4
    # v1's "no limit" (2**63 rounded to a page) and no cgroup files at all
    root, proc = _tree(
        tmp_path / "c",
        {"memory/memory.limit_in_bytes": "9223372036854771712", "memory/memory.usage_in_bytes": "100"},
        "4:memory:/\n",
    )
    assert memory.cgroup_headroom(root, proc) is None
    assert memory.cgroup_headroom(str(tmp_path / "none"), str(tmp_path / "missing")) is None
    # the guard takes the smaller: a 27-qubit state (2 GiB) no longer passes in a 1.5 GiB container
    monkeypatch.setattr(memory, "cgroup_headroom", lambda: gib)
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 20 * gib)
    assert memory.available_memory_bytes() == gib
    from qhybrid.qml.backends import check_fits

    check_fits("aer", 25)  # 0.5 GiB
    with pytest.raises(ValueError, match="27"):
        check_fits("aer", 27)
