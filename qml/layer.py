"""``QuantumLayer``: a variational circuit as a ``torch.nn.Module``.

Inputs ``(batch, n_inputs)`` are embedded on ``n_qubits`` wires, trainable ansatz layers follow, and the layer
returns ``<Z_i>`` on every wire: ``(batch, n_qubits)`` values in ``[-1, 1]``. The whole batch goes to the
device in one call (PennyLane broadcasting), which qhybrid's Aer device turns into one Aer run.

Example:
    >>> import torch
    >>> from qhybrid.qml.layer import QuantumLayer
    >>> layer = QuantumLayer(n_inputs=3, n_layers=1, backend="default", seed=0)
    >>> layer(torch.zeros(5, 3)).shape
    torch.Size([5, 3])
"""

from __future__ import annotations

import math

import pennylane as qp
import torch
from torch import nn

from .backends import _info, default_diff_method, make_device
from .circuits import amplitude_embedding, default_n_qubits, get_ansatz, get_embedding
from .validation import check_amplitude_inputs, check_bool, check_diff_method, check_int, check_seed


class QuantumLayer(nn.Module):
    """A variational quantum circuit layer for torch models.

    Args:
        n_inputs: number of input features.
        n_qubits: circuit width (default: what the embedding needs for ``n_inputs``).
        n_layers: ansatz layers (and, for ``reupload``, embedding repetitions).
        backend: a name from :func:`qml.backends.backend_names`.
        embedding: ``angle``, ``amplitude``, ``iqp``, ``reupload`` or a callable ``f(x, wires)``.
        ansatz: ``strongly_entangling``, ``basic_entangler``, ``hardware_efficient`` or a callable
            ``f(layer_weights, wires, entangling)``.
        entangling: ``False`` drops every two-qubit gate of the ansatz (separable control).
        shots, seed, noise, max_parallel_threads: passed to :func:`qml.backends.make_device`.
        diff_method: ``"best"`` picks the backend's fastest exact method (see ``default_diff_method``).
        weights_per_wire: weights per wire and layer, for a callable ansatz.
        device_options: extra simulator options (``AerSimulator`` options for Aer backends).
    """

    def __init__(
        self,
        n_inputs: int,
        n_qubits: int | None = None,
        n_layers: int = 2,
        *,
        backend: str = "aer",
        embedding="angle",
        ansatz="strongly_entangling",
        entangling: bool = True,
        shots: int | None = None,
        seed: int | None = None,
        noise=None,
        diff_method: str = "best",
        max_parallel_threads: int | None = None,
        weights_per_wire: int = 3,
        device_options: dict | None = None,
    ):
        super().__init__()
        check_int("n_inputs", n_inputs, 1)
        check_int("n_layers", n_layers, 1)
        check_int("n_qubits", n_qubits, 1, allow_none=True)
        check_bool("entangling", entangling)
        check_int("shots", shots, 1, allow_none=True)
        seed = check_seed("seed", seed)
        check_int("max_parallel_threads", max_parallel_threads, 0, allow_none=True)
        check_int("weights_per_wire", weights_per_wire, 1)
        check_diff_method(diff_method)
        self.embedding = get_embedding(embedding)
        self.ansatz = get_ansatz(ansatz, weights_per_wire)
        self.n_inputs = n_inputs
        self.n_qubits = n_qubits if n_qubits is not None else default_n_qubits(self.embedding, n_inputs)
        self.embedding.check(n_inputs, self.n_qubits)
        self.n_layers = n_layers
        self.backend = backend
        self.entangling = entangling
        self.shots = shots
        _info(backend)  # fail on an unknown name before building anything
        self._device_args = {
            "shots": shots,
            "seed": seed,
            "noise": noise,
            "max_parallel_threads": max_parallel_threads,
            **(device_options or {}),
        }
        self.diff_method = default_diff_method(backend, shots) if diff_method == "best" else diff_method
        self._build_device()

        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        shape = self.ansatz.shape(n_layers, self.n_qubits)
        init = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 * math.pi
        self.weights = nn.Parameter(init)

    def _build_device(self) -> None:
        self.device = make_device(self.backend, self.n_qubits, **self._device_args)
        self._tracker = None
        if not hasattr(self.device, "circuit_executions"):
            self._tracker = qp.Tracker(self.device, persistent=True)
            self._tracker.active = True
        self.qnode = qp.QNode(
            self._circuit,
            self.device,
            interface="torch",
            diff_method=self.diff_method,
            device_vjp=self.diff_method in ("device", "adjoint") or None,
        )

    def __getstate__(self) -> dict:
        # The simulator, its compiled circuits and the QNode are rebuilt on load: pickling (torch.save,
        # multiprocessing, scikit-learn clones of estimators) carries only settings and weights.
        state = dict(self.__dict__)
        for key in ("device", "qnode", "_tracker"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._build_device()

    def _circuit(self, inputs, weights):
        wires = range(self.n_qubits)
        if self.embedding.reupload:
            for layer in range(self.n_layers):
                self.embedding.apply(inputs, wires)
                self.ansatz.apply(weights[layer : layer + 1], wires, self.entangling)
        else:
            self.embedding.apply(inputs, wires)
            self.ansatz.apply(weights, wires, self.entangling)
        return [qp.expval(qp.Z(w)) for w in wires]

    @property
    def circuit_executions(self) -> int:
        """Circuits the simulator has run for this layer (forward and gradient evaluations)."""
        if self._tracker is not None:
            return int(self._tracker.totals.get("executions", 0))
        return int(self.device.circuit_executions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"QuantumLayer expects a torch.Tensor, got {type(x).__name__}")
        squeeze = x.ndim == 1
        if squeeze:
            x = x.unsqueeze(0)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"QuantumLayer expects inputs of shape (batch, {self.n_inputs}), got {tuple(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise ValueError("QuantumLayer inputs contain NaN or infinite values")
        if self.embedding.apply is amplitude_embedding:
            check_amplitude_inputs(x)
        # Simulators run on the CPU in double precision; results return to the caller's device and dtype.
        inputs = x.to("cpu", torch.float64)
        weights = self.weights.to("cpu", torch.float64)
        out = self.qnode(inputs, weights)
        out = torch.stack(list(out), dim=-1) if isinstance(out, list | tuple) else out.reshape(-1, 1)
        if out.ndim == 1:  # batch of one comes back unbatched
            out = out.unsqueeze(0)
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        out = out.to(device=x.device, dtype=dtype)
        return out[0] if squeeze else out

    def extra_repr(self) -> str:
        return (
            f"n_inputs={self.n_inputs}, n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
            f"backend={self.backend!r}, embedding={self.embedding.name!r}, ansatz={self.ansatz.name!r}, "
            f"entangling={self.entangling}, diff_method={self.diff_method!r}"
        )
