"""Backends by name: one function turns a short name into a PennyLane device.

================== =============================================================== ======================
name               simulator                                                       gradients (``best``)
================== =============================================================== ======================
aer                qhybrid's batched Aer device, statevector, exact                adjoint from Aer
aer.shots          the same, sampling ``shots`` per circuit (``shots`` required)   parameter shift
aer.density        Aer density matrix, exact, with an optional noise model         adjoint (depolarising)
aer.mps            Aer matrix product state, for wide shallow circuits             parameter shift
lightning          PennyLane's ``lightning.qubit`` (C++), for comparison           adjoint
default            PennyLane's ``default.qubit`` (NumPy/torch), for comparison     backprop
torch              qhybrid's fused statevector engine on torch tensors (CPU, CUDA) adjoint (its own)
torch.density      its density-matrix twin (CPU): Aer or PennyLane noise, channels one backward sweep
torch.trajectories Pauli noise as the mean of ``shots`` pure-state trajectories    adjoint per trajectory
================== =============================================================== ======================

``torch``, ``torch.density`` and ``torch.trajectories`` are engines, not PennyLane devices:
:class:`~qhybrid.qml.QuantumLayer` (and every model built on it) compiles its circuit once and runs it there
(:mod:`qhybrid.qml.engine`); ``make_device("torch")`` says so. ``auto`` (:func:`resolve_backend`) picks
``torch`` for exact runs, ``torch.density`` for noise (Aer's density matrix for a device's noise given as a
Qiskit backend) and Aer for shots; ``torch.trajectories`` is chosen by name (its estimates are means of
exact trajectory values, not samples of outcomes).

Example:
    >>> from qhybrid.qml.backends import make_device
    >>> dev = make_device("aer", wires=2)
    >>> dev.name, dev.method
    ('qhybrid.aer', 'statevector')
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import pennylane as qp

from .aer import AerDevice, available_memory_bytes
from .device_noise import is_backend
from .noise import PENNYLANE_NOISE_HINT, as_aer_noise_model, check_readout, is_pennylane_noise
from .validation import check_int, check_seed


@dataclass(frozen=True)
class BackendInfo:
    name: str
    description: str
    aer_method: str | None  # None: not an Aer backend
    needs_shots: bool = False
    takes_noise: bool = False
    bytes_per_amplitude_power: int = 1  # memory ~ 16 * 2**(power * n)
    engine: str = "aer"  # "aer" (qhybrid's Aer device), "pennylane" (a PennyLane device), "torch" (no device)
    takes_shots: bool = True
    #: the PennyLane device a "pennylane" backend makes
    pennylane_device: str | None = None
    #: a QNode's ``diff_method`` without shots (with shots a PennyLane device uses parameter shift)
    diff_method: str = "device"
    #: whether it gives exact pure states without shots or noise (a kernel reads their overlaps directly)
    pure_states: bool = False


BACKENDS: dict[str, BackendInfo] = {
    "aer": BackendInfo(
        "aer", "Aer statevector, exact (qhybrid batched device)", "statevector", pure_states=True
    ),
    "aer.shots": BackendInfo(
        "aer.shots", "Aer statevector, sampling shots (noise allowed)", "statevector", True, True
    ),
    "aer.density": BackendInfo(
        "aer.density", "Aer density matrix, exact or sampled, with noise", "density_matrix", False, True, 2
    ),
    "aer.mps": BackendInfo(
        "aer.mps",
        "Aer matrix product state (wide, shallow circuits)",
        "matrix_product_state",
        pure_states=True,
    ),
    "lightning": BackendInfo(
        "lightning",
        "PennyLane lightning.qubit (C++ statevector)",
        None,
        engine="pennylane",
        pennylane_device="lightning.qubit",
        diff_method="adjoint",
        pure_states=True,
    ),
    "default": BackendInfo(
        "default",
        "PennyLane default.qubit (NumPy/torch statevector)",
        None,
        engine="pennylane",
        pennylane_device="default.qubit",
        diff_method="backprop",
        pure_states=True,
    ),
    "torch": BackendInfo(
        "torch",
        "qhybrid's fused statevector engine on torch tensors (CPU, CUDA), exact, for QuantumLayer models",
        None,
        engine="torch",
        takes_shots=False,
        diff_method="adjoint",
    ),
    "torch.density": BackendInfo(
        "torch.density",
        "qhybrid's density-matrix engine (CPU), exact, with Aer or PennyLane noise models and channels, "
        "for QuantumLayer models",
        None,
        takes_noise=True,
        bytes_per_amplitude_power=2,
        engine="torch",
        takes_shots=False,
        diff_method="adjoint",
    ),
    "torch.trajectories": BackendInfo(
        "torch.trajectories",
        "qhybrid's trajectory engine: Pauli noise as the mean of pure-state trajectories on the statevector "
        "engine (shots: trajectories per row), adjoint gradients, for QuantumLayer models",
        None,
        needs_shots=True,
        takes_noise=True,
        engine="torch",
        diff_method="adjoint",
    ),
}

#: Not a backend of its own: :func:`resolve_backend` turns it into the fastest one for the job.
AUTO = "auto"

#: The largest width accepted for each memory class before even checking available memory.
MAX_QUBITS = 40


def backend_names() -> list[str]:
    """The backends of the registry (``auto`` is not one: it chooses among them)."""
    return list(BACKENDS)


def backend_choices() -> list[str]:
    """What a user may name: every backend, and ``auto``."""
    return [*BACKENDS, AUTO]


def backend_info(name: str) -> BackendInfo:
    """The registry entry of backend ``name``; an unknown name raises ValueError listing the allowed ones
    (``auto`` reads the entry of what it resolves to without shots or noise)."""
    if name == AUTO:
        return BACKENDS[resolve_backend(AUTO)]
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}, {AUTO}")
    return BACKENDS[name]


def resolve_backend(name: str, shots: int | None = None, noise=None) -> str:
    """The backend that runs a job: ``name`` itself, or for ``auto`` the fastest engine for it: the torch
    engine for exact runs, ``aer.shots`` with shots, its density-matrix twin with noise and no shots
    (``aer.density`` for a device's noise given as a Qiskit backend, which Aer compiles for).

    Example:
        >>> resolve_backend("auto"), resolve_backend("auto", shots=100), resolve_backend("aer")
        ('torch', 'aer.shots', 'aer')
        >>> resolve_backend("auto", noise={"depolarizing_1q": 0.01})
        'torch.density'
    """
    if name != AUTO:
        return backend_info(name).name
    if shots:
        return "aer.shots"
    if noise is None:
        return "torch"
    return "aer.density" if is_backend(noise) else "torch.density"


def device_backend(name: str, shots: int | None = None, noise=None) -> str:
    """The backend whose PennyLane device runs a QNode for ``name``: ``auto`` resolved, with Aer's exact
    statevector (or density matrix) where it would pick the torch engine (or its density twin), which are no
    devices.

    Example:
        >>> device_backend("auto"), device_backend("auto", shots=10), device_backend("default")
        ('aer', 'aer.shots', 'default')
    """
    resolved = resolve_backend(name, shots, noise)
    if name == AUTO and backend_info(resolved).engine == "torch":
        return DEVICE_OF_ENGINE[resolved]
    return resolved


#: The Aer backend that runs what each torch engine runs: ``auto``'s device, and its fallback.
DEVICE_OF_ENGINE = {"torch": "aer", "torch.density": "aer.density", "torch.trajectories": "aer.shots"}


def check_backend_options(name: str, shots: int | None = None, noise=None) -> None:
    """What :func:`make_device` checks before building anything, read from the registry row alone: the
    name, the shots and whether the backend takes noise. Raises ValueError naming what is allowed."""
    info = backend_info(resolve_backend(name, shots, noise))
    _check_shots_for(info, shots)
    if noise is not None and not info.takes_noise:
        raise _noise_refused(info)
    if is_pennylane_noise(noise) and not _takes_pennylane_noise(info):
        raise ValueError(f"backend {info.name!r}: {PENNYLANE_NOISE_HINT}")


def _takes_pennylane_noise(info: BackendInfo) -> bool:
    # the density engine adds the channels to its trace, Aer's density matrix runs them as kraus instructions
    return info.takes_noise and (info.engine == "torch" or info.aer_method == "density_matrix")


def _check_shots_for(info: BackendInfo, shots) -> None:
    _check_shots(shots)
    if info.needs_shots and shots is None:
        exact = (
            "'torch.density' for exact noise"
            if info.takes_noise and info.engine == "torch"
            else "'aer' for exact"
        )
        raise ValueError(f"backend {info.name!r} samples and needs shots > 0 (e.g. shots=1000); use {exact}")
    if shots is not None and not info.takes_shots:
        raise ValueError(f"backend {info.name!r} is exact and takes no shots; use 'aer.shots' to sample")


def _noise_refused(info: BackendInfo) -> ValueError:
    return ValueError(
        f"backend {info.name!r} cannot take a noise model; use 'auto', 'torch.density' (QuantumLayer models), "
        "'aer.density' (exact, mixed states) or 'aer.shots' (sampled trajectories)"
    )


def _n_wires(wires) -> int:
    if isinstance(wires, str):
        # a string is a sequence, but make_device("aer", "4") meaning one wire labelled "4" is never meant
        raise TypeError(f"wires={wires!r}: give a number of wires (int) or a list of labels, not a string")
    if isinstance(wires, bool) or not isinstance(wires, numbers.Integral):
        try:
            n = len(list(wires))
        except TypeError:
            raise TypeError(
                f"wires must be an int or a sequence of labels, not {type(wires).__name__}"
            ) from None
        if n == 0:
            raise ValueError(f"wires={wires!r}: need at least one wire")
        labels = list(wires)
        repeated = [w for i, w in enumerate(labels) if w in labels[:i]]
        if repeated:
            raise ValueError(
                f"wires={labels!r}: the label {repeated[0]!r} appears twice; wire labels must be unique"
            )
        return n
    if wires < 1:
        raise ValueError(f"wires={wires}: need at least one wire")
    return int(wires)  # a numpy integer counts too


def required_memory_bytes(name: str, n_wires: int) -> int:
    """Bytes of the simulator state for ``n_wires`` on backend ``name`` (0 for matrix product states)."""
    info = backend_info(name)
    if info.aer_method == "matrix_product_state":
        return 0
    return 16 * 2 ** (info.bytes_per_amplitude_power * n_wires)


def check_fits(name: str, n_wires: int) -> None:
    """Fail with a clear message when the state of ``n_wires`` qubits cannot fit in available memory."""
    need = required_memory_bytes(name, n_wires)
    have = available_memory_bytes()
    if need > have:
        kind = "density matrix" if backend_info(name).bytes_per_amplitude_power == 2 else "statevector"
        limit = int(math.log2(max(have // 16, 1)) // backend_info(name).bytes_per_amplitude_power)
        raise ValueError(
            f"{n_wires} qubits on backend {name!r} need a {kind} of {need / 2**30:.1f} GiB but only "
            f"{have / 2**30:.1f} GiB is available; at most {limit} qubits fit here (use 'aer.mps' for wide, "
            "shallow circuits)"
        )


def _check_shots(shots) -> None:
    if shots is None:
        return
    if isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0:
        raise ValueError(f"shots={shots!r}: must be a positive integer, or None for exact results")


def make_device(
    name: str,
    wires,
    *,
    shots: int | None = None,
    seed: int | None = None,
    noise=None,
    max_parallel_threads: int | None = None,
    **options,
):
    """Create a PennyLane device from a backend name.

    Args:
        name: one of :func:`backend_names`.
        wires: number of wires or their labels.
        shots: samples per circuit (required and > 0 for ``aer.shots``; ``None`` means exact).
        seed: seed of the sampler (Aer backends) for reproducible shots.
        noise: a :class:`~qhybrid.qml.noise.NoiseSpec`, a dict of its fields, a
            ``qiskit_aer.noise.NoiseModel``, a PennyLane ``NoiseModel`` (``aer.density``: its channels added
            to the decomposed gates as ``qml.add_noise``), or a device's noise: a Qiskit ``BackendV2`` or the name of a
            fake IBM backend (``"fake_manila"``, the ``ibm`` extra), whose circuits are then compiled to
            that device's gates and coupling map; for ``aer.density`` and ``aer.shots``.
        max_parallel_threads: Aer's OpenMP threads; set it when torch and Aer share few cores.
        **options: extra ``AerSimulator`` options for Aer backends.

    Raises:
        ValueError: unknown name, bad shots, noise on a backend without noise support, a state that does
            not fit in available memory, or ``torch``, which is an engine for QuantumLayer, not a device.
    """
    name = device_backend(name, shots, noise)
    info = backend_info(name)
    if info.engine == "torch":
        raise ValueError(
            f"backend {name!r} is qhybrid's engine for QuantumLayer circuits (and the models built on them), "
            "not a PennyLane device; for your own QNodes use 'aer', 'lightning' or 'default'"
        )
    n = _n_wires(wires)
    check_seed("seed", seed)
    check_int("max_parallel_threads", max_parallel_threads, 0, allow_none=True)  # Aer: 0 means all cores
    if isinstance(wires, numbers.Integral):
        wires = n  # a plain int for PennyLane and Aer, also when given a numpy integer
    if n > MAX_QUBITS:
        raise ValueError(f"{n} qubits requested; qhybrid's backends accept at most {MAX_QUBITS}")
    _check_shots_for(info, shots)
    if is_pennylane_noise(noise) and not _takes_pennylane_noise(info):
        raise ValueError(f"backend {name!r}: {PENNYLANE_NOISE_HINT}")
    # AerDevice takes as they are a Qiskit backend (it compiles for it) and a PennyLane model (adds its channels)
    device_noise = noise if is_backend(noise) or is_pennylane_noise(noise) else None
    model = None if device_noise is not None else as_aer_noise_model(noise)
    if model is not None or device_noise is not None:
        if not info.takes_noise:
            raise _noise_refused(info)
        check_readout(model, shots)
    check_fits(name, n)
    if info.aer_method is not None:
        return AerDevice(
            wires,
            method=info.aer_method,
            shots=shots,
            seed=seed,
            noise=device_noise,
            noise_model=model,
            max_parallel_threads=max_parallel_threads,
            **options,
        )
    if options:
        raise ValueError(f"backend {name!r} takes no simulator options; got {sorted(options)}")
    device_name = info.pennylane_device
    kwargs = {"wires": wires}
    if seed is not None:
        kwargs["seed"] = seed
    if shots is None:
        return qp.device(device_name, **kwargs)
    # PennyLane deprecates shots on devices in favour of qp.set_shots on QNodes; qhybrid keeps one calling
    # convention for every backend, so the device default is still set here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", qp.exceptions.PennyLaneDeprecationWarning)
        return qp.device(device_name, shots=shots, **kwargs)


def default_diff_method(name: str, shots: int | None = None) -> str:
    """The ``diff_method`` a QNode should use on backend ``name`` (the torch engine: its own adjoint)."""
    info = backend_info(resolve_backend(name, shots))
    if shots and info.engine == "pennylane":
        return "parameter-shift"
    return info.diff_method


def describe_backends() -> list[dict]:
    """For ``qhybrid info``: each backend, whether it can be created here, and why not."""
    rows = []
    for name, info in BACKENDS.items():
        try:
            if info.engine == "torch":
                from .engine import compile_for

                compile_for(name, _probe_circuit, 2, 1, (1,), shots=2 if info.needs_shots else None)
            else:
                make_device(name, 2, shots=100 if info.needs_shots else None)
            ok, why = True, ""
        except Exception as exc:  # report, don't fail: info lists what works
            ok, why = False, f"{type(exc).__name__}: {exc}"
        rows.append({"name": name, "description": info.description, "available": ok, "error": why})
    return rows


def _probe_circuit(x, w):
    qp.RX(x[..., 0], wires=0)
    qp.CNOT([0, 1])
    qp.RY(w[0], wires=1)
    return [qp.expval(qp.Z(1))]
