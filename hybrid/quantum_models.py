"""The quantum and hybrid classifiers of the registry: a circuit (:class:`~qhybrid.qml.QuantumLayer`) inside
a torch model, trained as every :class:`~qhybrid.hybrid.estimators.TorchClassifier` is.

They follow the families of the qml-benchmarks study (Bowles, Ahmed & Schuld, arXiv:2403.07059): ``vqc``,
``drc`` (data re-uploading), ``iqp``, ``dressed`` (the dressed quantum circuit), ``hybrid-mlp``; each with
``entangling=False`` as its separable control. Every one takes the shared arguments of
:class:`_QuantumClassifier` by keyword.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qhybrid.classical.validation import (
    ArgumentTypeError,
    check_bool,
    check_float,
    check_int,
    describe,
    seed_from,
)
from qhybrid.hybrid.estimators import TorchClassifier, _check_hidden

__all__ = [
    "DRCClassifier",
    "DressedQuantumClassifier",
    "HybridMLPClassifier",
    "IQPClassifier",
    "VQCClassifier",
]

_MAX_DEFAULT_QUBITS = 8


def _dense_angle(x, wires) -> None:
    """Feature ``j`` rotates wire ``j % n`` about X, Y, then Z for ``j // n = 0, 1, 2``: up to three features
    per qubit, so 10 features fit on 4 qubits (the encoding of qml-benchmarks' re-uploading classifier)."""
    import pennylane as qp

    wires = list(wires)
    n_features = x.shape[-1]
    for j in range(n_features):
        gate = (qp.RX, qp.RY, qp.RZ)[j // len(wires)]
        gate(x[..., j], wires=wires[j % len(wires)])


def _embedding(name: str, n_features: int, n_qubits: int):
    """The layer's own embedding when each feature has a wire; the dense angle encoding otherwise."""
    if n_features <= n_qubits:
        return name
    from qhybrid.qml.circuits import Embedding

    return Embedding(f"dense_{name}", _dense_angle, _three_per_wire, reupload=name == "reupload")


def _three_per_wire(n_wires: int) -> int:
    return 3 * n_wires


class _QuantumClassifier(TorchClassifier):
    """Shared parameters and checks of the models that contain a quantum circuit."""

    _embedding = "angle"

    def __init__(
        self,
        *,
        n_qubits,
        n_layers,
        backend,
        ansatz,
        entangling,
        shots,
        max_epochs,
        lr,
        batch_size,
        max_steps,
        convergence,
        random_state,
    ) -> None:
        """The arguments every quantum model shares, stored as given (scikit-learn's convention: checks run
        in ``fit``); each subclass lists them in its own signature and passes them here by keyword."""
        self.n_qubits = n_qubits
        self.n_layers = n_layers
        self.backend = backend
        self.ansatz = ansatz
        self.entangling = entangling
        self.shots = shots
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.convergence = convergence
        self.random_state = random_state

    def check_params(self) -> None:
        super().check_params()
        check_int("n_qubits", self.n_qubits, 1, allow_none=True)
        check_int("n_layers", self.n_layers, 1)
        check_bool("entangling", self.entangling)
        check_int("shots", self.shots, 1, allow_none=True)
        if not isinstance(self.backend, str):
            raise ArgumentTypeError(f"backend must be a backend name (str), got {describe(self.backend)}")

    def _default_qubits(self, n_features: int) -> int:
        return min(n_features, _MAX_DEFAULT_QUBITS)

    def _width(self, n_features: int) -> int:
        """The circuit's qubits: ``n_qubits`` (a numpy int too) or the model's default for the data."""
        return self._default_qubits(n_features) if self.n_qubits is None else int(self.n_qubits)

    def _make_layer(self, n_inputs: int, n_qubits: int, embedding: str) -> nn.Module:
        from qhybrid.qml import QuantumLayer

        return QuantumLayer(
            n_inputs,
            n_qubits,
            int(self.n_layers),
            backend=self.backend,
            embedding=_embedding(embedding, n_inputs, n_qubits),
            ansatz=self.ansatz,
            entangling=self.entangling,
            shots=None if self.shots is None else int(self.shots),
            seed=seed_from(self.random_state) if self.random_state is not None else None,
        )

    def _quantum_layers(self) -> list[nn.Module]:
        return [m for m in self.module_.modules() if hasattr(m, "n_qubits") and m is not self.module_]

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        n_qubits = self._width(n_features)
        layer = self._make_layer(n_features, n_qubits, self._embedding)
        # <Z_i> lie in [-1, 1]; a linear read-out turns them into class logits of any scale
        return nn.Sequential(layer, nn.Linear(layer.n_qubits, n_classes))


class VQCClassifier(_QuantumClassifier):
    """Variational quantum classifier: angle embedding, trainable ansatz, linear read-out of <Z_i>.

    Args:
        n_qubits: circuit width (default: the number of features, at most 8; further features are
            encoded on the same qubits, the layer cycles them over the wires).
        n_layers: ansatz layers.
        backend: a ``qml.backend_choices()`` name: ``auto`` (default: the torch engine for exact runs, Aer
            for shots or a circuit the engine does not run), ``torch``, ``aer``, ``default``, ``lightning``, ...
        ansatz: ``strongly_entangling``, ``basic_entangler`` or ``hardware_efficient``.
        entangling: ``False`` drops all two-qubit gates (separable control).
        shots: ``None`` for exact expectation values.
        max_epochs, lr, batch_size: the training budget.
        max_steps: at most this many optimiser steps (``None``: no cap besides ``max_epochs``).
        convergence: ``None`` trains ``max_epochs`` epochs; ``"qml-benchmarks"`` trains until the loss
            curve is flat by the qml-benchmarks study's criterion
            (:class:`~qhybrid.classical.training.ConvergenceStop`, window 200) or ``max_steps`` steps
            have run (``max_steps`` is then required; ``max_epochs`` is not used).
        random_state: seed for the weights and the batch order.
    """

    _embedding = "angle"

    def __init__(
        self,
        n_qubits: int | None = None,
        n_layers: int = 2,
        backend: str = "auto",
        ansatz: str = "strongly_entangling",
        entangling: bool = True,
        shots: int | None = None,
        max_epochs: int = 30,
        lr: float = 0.05,
        batch_size: int = 32,
        max_steps: int | None = None,
        convergence: str | None = None,
        random_state=None,
    ) -> None:
        super().__init__(
            n_qubits=n_qubits,
            n_layers=n_layers,
            backend=backend,
            ansatz=ansatz,
            entangling=entangling,
            shots=shots,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            random_state=random_state,
            max_steps=max_steps,
            convergence=convergence,
        )


class _InputScale(nn.Module):
    """A trainable weight per feature, ``x_i -> w_i x_i``: the learnable encoding frequencies of the
    re-uploading classifier."""

    def __init__(self, n_features: int, init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((n_features,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class DRCClassifier(_QuantumClassifier):
    """Data re-uploading classifier (Pérez-Salinas et al. 2020): the features, scaled by trainable weights
    ``w_i x_i``, are encoded again before every trainable layer, so the model's frequency spectrum grows
    with ``n_layers``. The default width is ``ceil(n_features / 3)`` (three rotation angles per qubit), at
    most 8.

    Args:
        input_scale: initial value of the trainable per-feature weights; ``None`` encodes the features
            unscaled and untrained. The default 0.5 keeps standardised features within about one rotation
            period; on our own generated linearly-separable / hidden-manifold / two-curves data it trained
            better than 1.0 or 0.25.
        others: as for :class:`VQCClassifier`.
    """

    _embedding = "reupload"

    def __init__(
        self,
        n_qubits: int | None = None,
        n_layers: int = 3,
        backend: str = "auto",
        ansatz: str = "strongly_entangling",
        entangling: bool = True,
        shots: int | None = None,
        input_scale: float | None = 0.5,
        max_epochs: int = 30,
        lr: float = 0.05,
        batch_size: int = 32,
        max_steps: int | None = None,
        convergence: str | None = None,
        random_state=None,
    ) -> None:
        self.input_scale = input_scale
        super().__init__(
            n_qubits=n_qubits,
            n_layers=n_layers,
            backend=backend,
            ansatz=ansatz,
            entangling=entangling,
            shots=shots,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            random_state=random_state,
            max_steps=max_steps,
            convergence=convergence,
        )

    def _default_qubits(self, n_features: int) -> int:
        return min(max(1, math.ceil(n_features / 3)), _MAX_DEFAULT_QUBITS)

    def check_params(self) -> None:
        super().check_params()
        check_float("input_scale", self.input_scale, allow_none=True)

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        model = super()._build(n_features, n_classes)
        if self.input_scale is None:
            return model
        return nn.Sequential(_InputScale(n_features, self.input_scale), *model)


class IQPClassifier(VQCClassifier):
    """IQP variational classifier (Havlíček et al. 2019): Hadamards, Z rotations by the features and ZZ
    rotations by their products, then a trainable ansatz. The arguments and defaults of
    :class:`VQCClassifier`, whose ``__init__`` it shares; only the embedding differs."""

    _embedding = "iqp"


class _Squash(nn.Module):
    """tanh(x) * pi/2: keeps the encoder's outputs inside one period of the rotation angles."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) * (math.pi / 2)


class DressedQuantumClassifier(_QuantumClassifier):
    """Dressed quantum circuit (Mari et al. 2020): ``Linear(n_features, n_qubits) -> tanh * pi/2 ->
    angle-embedded circuit -> Linear(n_qubits, n_classes)``. A small circuit (default 4 qubits) sees
    learned features, whatever the input width. Other parameters as for :class:`VQCClassifier`."""

    def __init__(
        self,
        n_qubits: int | None = 4,
        n_layers: int = 2,
        backend: str = "auto",
        ansatz: str = "strongly_entangling",
        entangling: bool = True,
        shots: int | None = None,
        max_epochs: int = 30,
        lr: float = 0.05,
        batch_size: int = 32,
        max_steps: int | None = None,
        convergence: str | None = None,
        random_state=None,
    ) -> None:
        super().__init__(
            n_qubits=n_qubits,
            n_layers=n_layers,
            backend=backend,
            ansatz=ansatz,
            entangling=entangling,
            shots=shots,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            random_state=random_state,
            max_steps=max_steps,
            convergence=convergence,
        )

    def _default_qubits(self, n_features: int) -> int:
        return 4

    def _encoder(self, n_features: int, n_qubits: int) -> nn.Module:
        return nn.Linear(n_features, n_qubits)

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        n_qubits = self._width(n_features)
        layer = self._make_layer(n_qubits, n_qubits, "angle")
        return nn.Sequential(
            self._encoder(n_features, n_qubits), _Squash(), layer, nn.Linear(layer.n_qubits, n_classes)
        )


class HybridMLPClassifier(DressedQuantumClassifier):
    """MLP encoder -> circuit -> linear head: ``MLP(n_features, hidden..., n_qubits) -> tanh * pi/2 ->
    angle-embedded circuit -> Linear(n_qubits, n_classes)``. ``hidden`` sets the encoder's hidden widths;
    other parameters as for :class:`VQCClassifier`."""

    def __init__(
        self,
        hidden: tuple[int, ...] = (32,),
        n_qubits: int | None = 4,
        n_layers: int = 2,
        backend: str = "auto",
        ansatz: str = "strongly_entangling",
        entangling: bool = True,
        shots: int | None = None,
        max_epochs: int = 30,
        lr: float = 0.02,
        batch_size: int = 32,
        max_steps: int | None = None,
        convergence: str | None = None,
        random_state=None,
    ) -> None:
        self.hidden = hidden
        super().__init__(
            n_qubits=n_qubits,
            n_layers=n_layers,
            backend=backend,
            ansatz=ansatz,
            entangling=entangling,
            shots=shots,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            random_state=random_state,
            max_steps=max_steps,
            convergence=convergence,
        )

    def check_params(self) -> None:
        super().check_params()
        _check_hidden(self.hidden)

    def _encoder(self, n_features: int, n_qubits: int) -> nn.Module:
        from qhybrid.classical.models import MLP

        return MLP(n_features, n_qubits, hidden=tuple(int(w) for w in self.hidden), activation="relu")
