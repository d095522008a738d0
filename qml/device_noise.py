"""Noise of a real device: a Qiskit backend's noise model, on the gates and qubits that device would run.

``noise=`` of :func:`~qhybrid.qml.make_device` (and of ``qml.device("qhybrid.aer", ...)``) takes a
Qiskit ``BackendV2`` or the name of one of ``qiskit_ibm_runtime``'s fake backends (``"fake_manila"``,
``"fake_jakarta"``, ...; the ``ibm`` extra). Its noise model (``NoiseModel.from_backend``: gate errors,
thermal relaxation and, with shots, readout errors) is defined per basis gate and per physical qubit, so
it means something only on circuits compiled for that device. Each circuit structure is therefore
transpiled once to the backend's basis gates and coupling map (:class:`BackendCompiler`), cached like
every other compiled circuit, and the saved quantities are read on the physical qubits where the
routing left each wire.

Exact runs (``aer.density`` without shots) leave readout errors out: they act only on sampled bits.
"""

from __future__ import annotations

import importlib

import numpy as np
from qiskit.quantum_info import Pauli

from qhybrid._extras import require


def is_backend(noise) -> bool:
    """Whether ``noise`` names or is a Qiskit backend (rather than a noise spec or model)."""
    from qiskit.providers import BackendV2

    return isinstance(noise, BackendV2) or (isinstance(noise, str) and noise.startswith("fake_"))


def fake_backend(name: str):
    """The ``qiskit_ibm_runtime.fake_provider`` backend called ``name`` (``"fake_manila"`` ->
    ``FakeManilaV2``)."""
    names = fake_backend_names()
    if name not in names:
        raise ValueError(f"unknown fake backend {name!r}; allowed: {', '.join(sorted(names))}")
    return getattr(importlib.import_module("qiskit_ibm_runtime.fake_provider"), names[name])()


def fake_backend_names() -> dict[str, str]:
    """``fake_<device>`` -> class name, for every V2 fake backend of ``qiskit_ibm_runtime``."""
    require("qiskit_ibm_runtime", "a fake IBM backend as noise")
    provider = importlib.import_module("qiskit_ibm_runtime.fake_provider")
    return {
        "fake_" + attr[4:-2].lower(): attr
        for attr in dir(provider)
        if attr.startswith("Fake") and attr.endswith("V2") and attr != "FakeBackendV2"
    }


def backend_noise(noise, n_qubits: int, shots: int | None):
    """``(backend, NoiseModel)`` for a backend or fake backend name; readout errors only with shots.

    Raises:
        ValueError: an unknown name, or a backend with fewer qubits than the device's wires.
    """
    from qiskit_aer.noise import NoiseModel

    backend = fake_backend(noise) if isinstance(noise, str) else noise
    if backend.num_qubits < n_qubits:
        raise ValueError(
            f"backend {backend.name!r} has {backend.num_qubits} qubits, fewer than the {n_qubits} wires "
            "asked for"
        )
    return backend, NoiseModel.from_backend(backend, readout_error=bool(shots))


class BackendCompiler:
    """Transpiles circuits for one backend, each once: the gates to its basis and coupling map, then the
    save and measure instructions put back on the physical qubits holding their wires at the end.

    Expectation values are read from one saved density matrix of those qubits (:meth:`finish`), not from
    Aer's ``save_expectation_value``: on circuits with idle qubits, which a compiled circuit has wherever
    the device is wider than the wires, Aer truncates them and then reads the wrong subsystem
    (qiskit-aer issue 2442, open; measured on qiskit-aer 0.18.2). Its saved probabilities, density
    matrices and counts come out right.

    Args:
        backend: a Qiskit ``BackendV2`` (its target gives basis gates and coupling map).
        seed: the transpiler's seed (layout and routing are then the same in every run).
    """

    def __init__(self, backend, seed: int | None = None):
        self.backend = backend
        self.seed = 0 if seed is None else seed
        self._compiled: dict[int, tuple] = {}
        self._expvals: dict[int, list] = {}  # id(compiled) -> [(label, terms, virtual qubits)]

    def compile(self, circuit):
        """The backend's version of ``circuit`` (cached while ``circuit`` lives)."""
        hit = self._compiled.get(id(circuit))
        if hit is None or hit[0] is not circuit:
            hit = (circuit, self._transpile(circuit))
            self._compiled[id(circuit)] = hit
        return hit[1]

    def finish(self, compiled, data: dict) -> dict:
        """One experiment's data with the expectation values of ``compiled``'s replaced saves filled in."""
        expvals = self._expvals.get(id(compiled))
        if not expvals:
            return data
        rho = np.asarray(data.pop(_RHO))
        n = int(np.log2(rho.shape[0]))
        for label, terms, qubits in expvals:
            value = 0.0
            for pauli, coeff in terms:
                full = ["I"] * n
                for q, letter in zip(qubits, reversed(pauli), strict=True):
                    full[n - 1 - q] = letter
                value += coeff * np.real(np.sum(rho.T * Pauli("".join(full)).to_matrix()))
            data[label] = value
        return data

    def _transpile(self, circuit):
        from qiskit import transpile

        gates, tail = circuit.copy_empty_like(), []
        for inst in circuit.data:
            name = inst.operation.name
            if name.startswith("save_") or name in ("measure", "barrier"):
                tail.append(inst)
            elif tail:
                raise ValueError(
                    f"a circuit for device noise has gate {name!r} after its read-outs; only circuits "
                    "that read their results at the end can be compiled for a backend"
                )
            else:
                gates.append(inst)
        compiled = transpile(gates, backend=self.backend, optimization_level=1, seed_transpiler=self.seed)
        final = compiled.layout.final_index_layout() if compiled.layout is not None else None
        physical = [compiled.qubits[final[q] if final else q] for q in range(circuit.num_qubits)]
        expvals = []
        for inst in tail:
            qubits = [circuit.find_bit(q).index for q in inst.qubits]
            if inst.operation.name == "save_expval":
                terms = [(label, float(np.real(coeff[0]))) for label, coeff in inst.operation.params]
                expvals.append((inst.operation.label, terms, qubits))
                continue
            clbits = [compiled.clbits[circuit.find_bit(c).index] for c in inst.clbits]
            compiled.append(inst.operation, [physical[q] for q in qubits], clbits)
        if expvals:
            compiled.save_density_matrix(physical, label=_RHO)
            self._expvals[id(compiled)] = expvals
        return compiled


_RHO = "_device_rho"
