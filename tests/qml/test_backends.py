"""Backends by name: what each name builds, and the errors bad input gets."""

import numpy as np
import pennylane as qp
import pytest

from qhybrid.qml import (
    AerDevice,
    NoiseSpec,
    backend_names,
    default_diff_method,
    make_device,
    required_memory_bytes,
)
from qhybrid.qml.backends import check_fits


def test_names_are_the_documented_ones():
    assert backend_names() == [
        "aer",
        "aer.shots",
        "aer.density",
        "aer.mps",
        "lightning",
        "default",
        "torch",
        "torch.density",
        "torch.trajectories",
    ]


@pytest.mark.parametrize(
    "name, method",
    [("aer", "statevector"), ("aer.density", "density_matrix"), ("aer.mps", "matrix_product_state")],
)
def test_aer_names_build_our_device_with_the_right_method(name, method):
    dev = make_device(name, 3)
    assert isinstance(dev, AerDevice)
    assert dev.method == method
    assert dev.default_shots is None


def test_pennylane_backends():
    assert make_device("default", 2).name == "default.qubit"
    assert make_device("lightning", 2).name == "lightning.qubit"


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'qiskit'.*aer, aer.shots, aer.density, aer.mps"):
        make_device("qiskit", 2)


@pytest.mark.parametrize("shots", [0, -5, 1.5, True])
def test_bad_shots(shots):
    with pytest.raises(ValueError, match="shots"):
        make_device("aer.shots", 2, shots=shots)


def test_sampling_backend_needs_shots():
    with pytest.raises(ValueError, match="needs shots"):
        make_device("aer.shots", 2)


def test_noise_only_where_the_backend_takes_it():
    with pytest.raises(ValueError, match="cannot take a noise model.*aer.density"):
        make_device("aer", 2, noise={"depolarizing_1q": 0.01})
    dev = make_device("aer.density", 2, noise=NoiseSpec(depolarizing_1q=0.01))
    assert dev.noise_model is not None


def test_readout_noise_needs_shots():
    with pytest.raises(ValueError, match="readout errors act only on sampled"):
        make_device("aer.density", 2, noise={"readout": 0.05})


def test_width_that_cannot_fit_in_memory_fails_before_allocating(monkeypatch):
    # the guard reads the host's available memory: pin it so the result does not depend on the machine
    import qhybrid.qml.backends as backends_mod

    monkeypatch.setattr(backends_mod, "available_memory_bytes", lambda: 16 * 2**30)
    with pytest.raises(
        ValueError,
        match=r"34 qubits on backend 'aer' need a statevector of 256.0 GiB but only 16.0 GiB.*at most 30",
    ):
        make_device("aer", 34)
    with pytest.raises(ValueError, match="density matrix"):
        make_device("aer.density", 20)
    # matrix product states have no such bound
    assert required_memory_bytes("aer.mps", 34) == 0
    check_fits("aer.mps", 34)


def test_width_that_fits_the_reported_memory_passes(monkeypatch):
    import qhybrid.qml.backends as backends_mod

    monkeypatch.setattr(backends_mod, "available_memory_bytes", lambda: 512 * 2**30)
    check_fits("aer", 34)  # 256 GiB fits in 512 GiB: the guard follows the memory it is given
    with pytest.raises(ValueError, match="at most 17 qubits"):
        check_fits("aer.density", 18)


def test_diff_method_per_backend():
    assert default_diff_method("aer") == "device"
    assert default_diff_method("default") == "backprop"
    assert default_diff_method("lightning") == "adjoint"
    assert default_diff_method("default", shots=100) == "parameter-shift"


def test_seeded_shots_are_reproducible_and_calls_differ():
    def run(seed):
        dev = make_device("aer.shots", 1, shots=200, seed=seed)

        @qp.qnode(dev)
        def c():
            qp.RX(1.0, 0)
            return qp.expval(qp.Z(0))

        return float(c()), float(c())

    a, b = run(5), run(5)
    assert a == b
    assert a[0] != a[1]  # a fresh sampler seed for every call
    assert abs(a[0] - np.cos(1.0)) < 5 * np.sqrt((1 - np.cos(1.0) ** 2) / 200)


def test_default_backend_with_shots_samples():
    dev = make_device("default", 1, shots=100, seed=0)

    @qp.qnode(dev)
    def c():
        qp.Hadamard(0)
        return qp.sample(wires=0)

    assert np.asarray(c()).shape == (100, 1)


def test_unknown_aer_option_is_a_value_error():
    with pytest.raises(ValueError, match="bad AerSimulator option.*max_parallel_state_update"):
        make_device("aer", 2, max_parallel_state_update=1)
    with pytest.raises(ValueError, match="takes no simulator options"):
        make_device("default", 2, max_parallel_threads=None, method="x")


@pytest.mark.parametrize(
    "wires, error, match",
    [
        ("4", TypeError, "wires='4': give a number of wires"),
        ([], ValueError, r"wires=\[\]: need at least one wire"),
        (0, ValueError, "wires=0: need at least one wire"),
        (2.0, TypeError, "not float"),
    ],
)
def test_make_device_refuses_wires_that_are_not_a_count_or_labels(wires, error, match):
    with pytest.raises(error, match=match):
        make_device("aer", wires)


@pytest.mark.parametrize("backend", ["aer", "default"])
def test_make_device_takes_a_numpy_integer_for_the_number_of_wires(backend):
    dev = make_device(backend, np.int64(3))
    assert list(dev.wires) == [0, 1, 2]
    assert all(type(w) is int for w in dev.wires)


def test_a_gpu_without_aers_gpu_build_is_refused_before_any_job():
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("this machine has Aer's GPU build")
    with pytest.raises(
        ValueError, match=r"Aer device 'GPU' is not available here; allowed: CPU.*qhybrid\[gpu\]"
    ):
        make_device("aer", 2, device="GPU")
    with pytest.raises(ValueError, match="Aer device 'TPU' is not available here; allowed: CPU"):
        make_device("aer.density", 2, device="TPU")


def test_auto_sends_noise_to_the_density_engine_and_devices_to_aer_density():
    from qiskit.providers.fake_provider import GenericBackendV2

    from qhybrid.qml.backends import check_backend_options, device_backend, resolve_backend

    spec = {"depolarizing_1q": 0.01}
    assert resolve_backend("auto", noise=spec) == "torch.density"
    assert device_backend("auto", noise=spec) == "aer.density"  # a QNode's device
    assert resolve_backend("auto", noise=GenericBackendV2(3, seed=1)) == "aer.density"  # Aer compiles for it
    assert resolve_backend("auto", shots=100, noise=spec) == "aer.shots"
    check_backend_options("torch.density", noise=spec)
    with pytest.raises(ValueError, match="'torch' cannot take a noise model; use 'auto', 'torch.density'"):
        check_backend_options("torch", noise=spec)
    with pytest.raises(ValueError, match="'torch.density' is exact and takes no shots"):
        check_backend_options("torch.density", shots=10)


def test_every_fact_about_a_backend_is_in_its_registry_row():
    """A backend's device, default diff_method and pure states are read from BACKENDS, nowhere else."""
    from qhybrid.qml.aer import AER_METHODS
    from qhybrid.qml.backends import BACKENDS, default_diff_method
    from qhybrid.qml.kernels import kernel_method

    for name, info in BACKENDS.items():
        assert info.aer_method is None or info.aer_method in AER_METHODS
        assert (info.engine == "pennylane") == (info.pennylane_device is not None)
        if not info.needs_shots:
            assert default_diff_method(name) == info.diff_method
        if info.engine != "torch" and not info.needs_shots:
            method = kernel_method(name)
            assert method == ("statevector" if info.pure_states else "fidelity"), name
    assert default_diff_method("lightning", shots=100) == "parameter-shift"
    assert default_diff_method("aer.shots", shots=100) == "device"
