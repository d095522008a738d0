"""Where a solver's circuits run: a PennyLane device through QNodes, or the torch engine with no QNode at all.

QAOA and VQE describe their circuit once, as ``body(params)`` (the gates) and a Hamiltonian, and ask a
simulator for ``cost(params)``, ``value_and_grad(params)`` and the final state's probabilities. Two kinds:

* :class:`DeviceSimulator`: the backend's PennyLane device (Aer, lightning, default.qubit), one QNode per
  question, the gradient by the backend's best differentiation method; executions counted by PennyLane's
  ``Tracker``.
* :class:`EngineSimulator`: the torch engine (:mod:`qml.engine`): the body and the Hamiltonian compiled once
  per depth into index tables and a Pauli-sum table, then every energy and gradient is one engine call and
  its written-out adjoint pass (no tape, no preprocessing). Executions: one per energy, two per energy with
  its gradient (the forward run and the reverse run), the way the Aer device's adjoint counts them.

:func:`make_simulator` picks one from a backend name: ``auto`` takes the engine for exact runs and falls
back to the Aer device where the engine cannot trace the circuit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pennylane as qp
import torch
from pennylane import numpy as pnp

from qhybrid.qml.backends import (
    AUTO,
    check_fits,
    default_diff_method,
    device_backend,
    make_device,
    resolve_backend,
)

from ._common import energy_functions

Body = Callable[[object], None]


class DeviceSimulator:
    """A solver's circuits as QNodes on the backend's PennyLane device."""

    def __init__(self, backend: str, n_qubits: int, shots: int | None, seed: int | None):
        self.backend = backend
        self.shots = shots
        self.device = make_device(backend, n_qubits, shots=shots, seed=seed)
        self.n_qubits = n_qubits
        self._tracker = qp.Tracker(self.device)

    def tracking(self):
        """A context in which :attr:`executions` counts."""
        return self._tracker

    @property
    def executions(self) -> int:
        return int(self._tracker.totals.get("executions", 0))

    def energy_functions(self, body: Body, hamiltonian, n_params: int, gradient: bool):
        """``cost(params) -> float`` and ``value_and_grad(params) -> (float, array)`` of ``<H>`` after
        ``body``; gradient-free optimisers get QNodes without the gradient machinery."""
        method = default_diff_method(self.backend, self.shots) if gradient else None

        @qp.qnode(self.device, diff_method=method)
        def energy_circuit(params):
            body(params)
            return qp.expval(hamiltonian)

        return energy_functions(energy_circuit)

    def probabilities(self, body: Body, params: np.ndarray) -> np.ndarray:
        """Probabilities of the ``2**n`` bitstrings (wire 0 the most significant bit) after ``body``;
        frequencies with shots."""

        @qp.qnode(self.device, diff_method=None)
        def probs_circuit(p):
            body(p)
            return qp.probs(wires=range(self.n_qubits))

        return np.asarray(probs_circuit(pnp.array(params, requires_grad=False)), dtype=float)


class EngineSimulator:
    """A solver's circuits compiled for the torch engine (exact, on the CPU)."""

    backend = "torch"

    def __init__(self, n_qubits: int):
        check_fits("torch", n_qubits)
        self.n_qubits = n_qubits
        self.executions = 0
        self._none = torch.zeros(1, 0, dtype=torch.float64)
        self._compiled: dict = {}

    def tracking(self):
        return contextlib.nullcontext()

    def _compile(self, body: Body, measure, n_params: int, key):
        """The body and one measurement compiled once (a solver asks again for each depth or check); ``key``
        names the body and the observable (kept alive with the circuit, so an ``id`` in it stays unique)."""
        from qhybrid.qml.engine import CompiledCircuit

        if key not in self._compiled:

            def fn(inputs, weights):
                body(weights)
                return [measure()]

            self._compiled[key] = (measure, CompiledCircuit(fn, self.n_qubits, 0, (max(n_params, 1),)))
        return self._compiled[key][1]

    def energy_functions(self, body: Body, hamiltonian, n_params: int, gradient: bool):
        """As :meth:`DeviceSimulator.energy_functions`; raises ``NotTraceable`` where the engine cannot
        run the body or the Hamiltonian."""
        circuit = self._compile(body, lambda: qp.expval(hamiltonian), n_params, (body, id(hamiltonian)))

        def weights(params, grad: bool) -> torch.Tensor:
            w = torch.as_tensor(np.asarray(params, dtype=np.float64).reshape(-1)).clone()
            return w.requires_grad_(grad)

        def cost(params):
            self.executions += 1
            with torch.no_grad():
                return float(circuit(self._none, weights(params, False))[0, 0])

        def value_and_grad(params):
            self.executions += 2
            w = weights(params, True)
            value = circuit(self._none, w)[0, 0]
            value.backward()
            return float(value.detach()), w.grad.numpy().copy()

        return cost, value_and_grad

    def probabilities(self, body: Body, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64).reshape(-1)
        # the state does not depend on the measurement: a circuit compiled for the energy serves
        compiled = [entry[1] for key, entry in self._compiled.items() if key[0] is body]
        circuit = (
            compiled[0]
            if compiled
            else self._compile(body, lambda: qp.expval(qp.Z(0)), params.size, (body, None))
        )
        self.executions += 1
        psi = circuit.state(self._none, torch.as_tensor(params))[0]
        return (psi.real**2 + psi.imag**2).numpy()


def make_simulator(backend: str, n_qubits: int, shots: int | None, seed: int | None, body_check=None):
    """The simulator for ``backend``: the torch engine for ``torch`` (and for ``auto`` without shots),
    else the backend's device. ``body_check(simulator)`` compiles what the solver will run, so that ``auto``
    falls back to the Aer device where the engine cannot trace it (a named ``torch`` raises instead)."""
    from qhybrid.qml.engine import NotTraceable

    resolved = resolve_backend(backend, shots)
    if resolved != "torch":
        return DeviceSimulator(resolved, n_qubits, shots, seed)
    engine = EngineSimulator(n_qubits)
    if body_check is None:
        return engine
    try:
        body_check(engine)
    except NotTraceable:
        if backend != AUTO:
            raise
        return DeviceSimulator(device_backend(backend, shots), n_qubits, shots, seed)
    return engine
