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

import functools
import itertools
import math
import weakref
from concurrent.futures import ThreadPoolExecutor

import pennylane as qp
import torch
from torch import nn

from .backends import (
    AUTO,
    DEVICE_OF_ENGINE,
    backend_info,
    check_backend_options,
    check_fits,
    default_diff_method,
    device_backend,
    make_device,
    resolve_backend,
)
from .circuits import amplitude_embedding, default_n_qubits, get_ansatz, get_embedding
from .engine import CompiledCircuit, DensityCircuit, NotTraceable, TrajectoryCircuit, compile_for
from .noise import as_aer_noise_model, check_readout, is_pennylane_noise
from .validation import check_amplitude_inputs, check_bool, check_diff_method, check_int, check_seed

# torch.compile: Dynamo cannot trace a QNode (PennyLane tapes, the simulator's own Python): tracing into it
# never finished, and a graph break (torch.compiler.disable) inside nn.Sequential's loop leaves the whole
# model uncompiled. Under compilation the layer's circuit is therefore one custom op, opaque to the compiler,
# so the classical modules around it compile into one graph. The op finds its layer by a key (custom ops take
# tensors and plain values only). Its backward runs the QNode again with autograd on and takes the
# vector-Jacobian product from it: one more forward batch of circuits per training step than eager mode.
_ENGINES = tuple(DEVICE_OF_ENGINE)

_LIVE_LAYERS: weakref.WeakValueDictionary[int, QuantumLayer] = weakref.WeakValueDictionary()
_KEYS = itertools.count()


@torch.library.custom_op("qhybrid::quantum_layer", mutates_args=())
def _quantum_call(inputs: torch.Tensor, weights: torch.Tensor, key: int) -> torch.Tensor:
    with torch.no_grad():
        return _LIVE_LAYERS[key]._evaluate(inputs, weights).contiguous()


@_quantum_call.register_fake
def _(inputs: torch.Tensor, weights: torch.Tensor, key: int) -> torch.Tensor:
    return inputs.new_empty(inputs.shape[0], _LIVE_LAYERS[key].n_qubits)


@functools.cache
def _autograd_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qhybrid-vjp")


def _vjp(key: int, inputs: torch.Tensor, weights: torch.Tensor, grad: torch.Tensor, wrt: tuple[bool, bool]):
    x = inputs.detach().requires_grad_(wrt[0])
    w = weights.detach().requires_grad_(wrt[1])
    with torch.enable_grad():
        out = _LIVE_LAYERS[key]._evaluate(x, w)
        found = iter(torch.autograd.grad(out, [t for t in (x, w) if t.requires_grad], grad))
    # zeros where no gradient was asked for; contiguous: the strides the fake version promises
    return tuple(next(found).contiguous() if t.requires_grad else torch.zeros_like(t) for t in (x, w))


@torch.library.custom_op("qhybrid::quantum_layer_vjp", mutates_args=())
def _quantum_vjp(
    inputs: torch.Tensor,
    weights: torch.Tensor,
    grad: torch.Tensor,
    key: int,
    wrt_inputs: bool,
    wrt_weights: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    # A custom op's body runs with autograd switched off below the dispatcher, which torch.enable_grad does
    # not undo; a thread of its own starts with autograd on, so the QNode's gradient runs there.
    job = _autograd_thread().submit(_vjp, key, inputs, weights, grad, (wrt_inputs, wrt_weights))
    return job.result()


@_quantum_vjp.register_fake
def _(inputs, weights, grad, key, wrt_inputs, wrt_weights):
    return inputs.new_empty(inputs.shape), weights.new_empty(weights.shape)


def _setup_context(ctx, inputs, output) -> None:
    x, w, key = inputs
    ctx.save_for_backward(x, w)
    ctx.key = key


def _backward(ctx, grad):
    x, w = ctx.saved_tensors
    wrt = ctx.needs_input_grad[:2]
    grad_x, grad_w = _quantum_vjp(x, w, grad, ctx.key, *wrt)
    return (grad_x if wrt[0] else None), (grad_w if wrt[1] else None), None


_quantum_call.register_autograd(_backward, setup_context=_setup_context)


class QuantumLayer(nn.Module):
    """A variational quantum circuit layer for torch models.

    Args:
        n_inputs: number of input features.
        n_qubits: circuit width (default: what the embedding needs for ``n_inputs``).
        n_layers: ansatz layers (and, for ``reupload``, embedding repetitions).
        backend: a name from :func:`qml.backends.backend_names`, or ``"auto"``: the torch engine for exact
            runs, its density-matrix twin for noise and PennyLane channels (Aer's devices where the circuit
            or the noise has something the engines do not run), Aer for shots.
            :attr:`engine_backend` says which ran.
        embedding: ``angle``, ``amplitude``, ``iqp``, ``reupload`` or a callable ``f(x, wires)``.
        ansatz: ``strongly_entangling``, ``basic_entangler``, ``hardware_efficient`` or a callable
            ``f(layer_weights, wires, entangling)``.
        entangling: ``False`` drops every two-qubit gate of the ansatz (separable control).
        shots, seed, noise, max_parallel_threads: passed to :func:`qml.backends.make_device`.
        diff_method: ``"best"`` picks the backend's fastest exact method (see ``default_diff_method``); the
            torch engine always differentiates by its own adjoint pass.
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
        backend_info(backend)  # fail on an unknown name before building anything
        check_backend_options(backend, shots, noise)
        self._device_args = {
            "shots": shots,
            "seed": seed,
            "noise": noise,
            "max_parallel_threads": max_parallel_threads,
            **(device_options or {}),
        }
        self._diff_method_arg = diff_method
        self._runs_on = resolve_backend(backend, shots, noise)
        engine_methods = ("best", "adjoint", None)
        if backend == AUTO and self._runs_on in _ENGINES and diff_method not in engine_methods:
            self._runs_on = device_backend(AUTO, shots, noise)  # the user's gradient method: a device runs it
        if self._runs_on in _ENGINES and diff_method not in engine_methods:
            raise ValueError(
                f"diff_method={diff_method!r}: the torch engines differentiate by their own backward pass; "
                "give 'best' or 'adjoint', or pick another backend"
            )
        self._engine = None
        self._build_device()

        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        shape = self.ansatz.shape(n_layers, self.n_qubits)
        init = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 * math.pi
        self.weights = nn.Parameter(init)
        if backend in _ENGINES and type(self).circuit is QuantumLayer.circuit:
            self._ensure_engine()  # the layer's own circuit is known now: refuse it here, not at the first call

    @property
    def engine_backend(self) -> str:
        """The backend that runs the circuit. The torch engine compiles it at first use (a subclass's
        circuit may need its own attributes), and ``auto`` falls back to Aer where it cannot."""
        self._ensure_engine()
        return self._runs_on

    @property
    def engine(self) -> CompiledCircuit | DensityCircuit | TrajectoryCircuit | None:
        """The compiled circuit on a torch engine (``torch``, ``torch.density``, ``torch.trajectories``), else
        None."""
        self._ensure_engine()
        return self._engine

    def _ensure_engine(self) -> None:
        if self._runs_on not in _ENGINES or self._engine is not None:
            return
        check_fits(self._runs_on, self.n_qubits)
        shape = (self.circuit, self.n_qubits, self.n_inputs, tuple(self.weights.shape))
        # auto: the statevector engine, its density twin for a circuit with PennyLane channels, else Aer
        tries = [self._runs_on] + (["torch.density"] if self._runs_on == "torch" else [])
        for name in tries if self.backend == AUTO else tries[:1]:
            try:
                noise = None if name == "torch" else self._engine_noise()
                seed = self._device_args["seed"]
                self._engine = compile_for(name, *shape, noise_model=noise, shots=self.shots, seed=seed)
                self._runs_on = name
                return
            except NotTraceable:
                if self.backend != AUTO:
                    raise
        self._runs_on = DEVICE_OF_ENGINE[self._runs_on]
        self._build_device()

    def _engine_noise(self):
        noise = self._device_args["noise"]
        if is_pennylane_noise(noise):
            return noise  # added to the traced circuit (engine.density.with_pennylane_noise)
        model = as_aer_noise_model(noise)
        check_readout(model, None)  # the engines are exact
        return model

    def _build_device(self) -> None:
        # A fresh key per built layer (a copy or an unpickled layer gets its own): the compiled op's handle.
        self._key = next(_KEYS)
        _LIVE_LAYERS[self._key] = self
        self._engine_rows = 0
        wanted = self._diff_method_arg
        self.diff_method = default_diff_method(self._runs_on, self.shots) if wanted == "best" else wanted
        if self._runs_on in _ENGINES:
            self.device = self.qnode = self._tracker = None
            return
        self.device = make_device(self._runs_on, self.n_qubits, **self._device_args)
        self._tracker = None
        if not hasattr(self.device, "circuit_executions"):
            self._tracker = qp.Tracker(self.device, persistent=True)
            self._tracker.active = True
        self.qnode = qp.QNode(
            self.circuit,
            self.device,
            interface="torch",
            diff_method=self.diff_method,
            device_vjp=self.diff_method in ("device", "adjoint") or None,
        )

    def __getstate__(self) -> dict:
        # The simulator, its compiled circuits and the QNode are rebuilt on load: pickling (torch.save,
        # multiprocessing, scikit-learn clones of estimators) carries only settings and weights.
        state = dict(self.__dict__)
        state["_engine"] = None  # compiled again at first use
        for key in ("device", "qnode", "_tracker"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._build_device()

    def circuit(self, inputs, weights):
        """The quantum function the layer's QNode runs: embedding, ansatz, ``<Z>`` of every wire (run it
        in a QNode of your own to compare devices)."""
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
        """Circuits the simulator has run for this layer (forward and gradient evaluations; on the torch
        engine one per row of every forward batch, whose adjoint pass runs no further circuit)."""
        if self.engine is not None:
            return self._engine_rows
        if self._tracker is not None:
            return int(self._tracker.totals.get("executions", 0))
        return int(self.device.circuit_executions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_inputs)`` or ``(n_inputs,)`` inputs -> ``<Z_i>`` of every wire, in ``x``'s dtype and
        device."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"QuantumLayer expects a torch.Tensor, got {type(x).__name__}")
        squeeze = x.ndim == 1
        if squeeze:
            x = x.unsqueeze(0)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"QuantumLayer expects inputs of shape (batch, {self.n_inputs}), got {tuple(x.shape)}"
            )
        # Simulators run in double precision, Aer and PennyLane's on the CPU, the torch engine where the
        # layer's weights are; results return to the caller's device and dtype.
        where = self.weights.device if self.engine is not None else "cpu"
        inputs = x.to(where, torch.float64)
        weights = self.weights.to(where, torch.float64)
        if torch.compiler.is_compiling():
            out = _quantum_call(inputs, weights, self._key)  # one opaque op in the compiled graph
        else:
            out = self._evaluate(inputs, weights)
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        out = out.to(device=x.device, dtype=dtype)
        return out[0] if squeeze else out

    def _evaluate(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The QNode on a ``(batch, n_inputs)`` float64 CPU batch: ``(batch, n_qubits)``, differentiable by
        the QNode's own gradient method. The value checks live here, where tensors hold real values (under
        ``torch.compile`` too, as this runs inside the opaque op)."""
        if not torch.isfinite(inputs).all():
            raise ValueError("QuantumLayer inputs contain NaN or infinite values")
        if self.embedding.apply is amplitude_embedding:
            check_amplitude_inputs(inputs)
        if self.engine is not None:
            self._engine_rows += inputs.shape[0]
            return self.engine(inputs, weights)
        if inputs.shape[0] == 0:  # no rows, no circuits: the width from one row, and a zero gradient
            width = self._evaluate(inputs.new_zeros(1, inputs.shape[1]), weights).shape[1]
            return weights.new_zeros(0, width) + 0 * weights.sum()
        out = self.qnode(inputs, weights)
        out = torch.stack(list(out), dim=-1) if isinstance(out, list | tuple) else out.reshape(-1, 1)
        return out.unsqueeze(0) if out.ndim == 1 else out  # batch of one comes back unbatched

    def extra_repr(self) -> str:
        return (
            f"n_inputs={self.n_inputs}, n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
            f"backend={self.backend!r}{self._ran_on()}, embedding={self.embedding.name!r}, ansatz={self.ansatz.name!r}, "
            f"entangling={self.entangling}, diff_method={self.diff_method!r}"
        )

    def _ran_on(self) -> str:
        return f" ({self.engine_backend})" if self.engine_backend != self.backend else ""
