"""Classical, quantum and hybrid classifiers built by name from one registry.

Every model is a scikit-learn estimator (``fit / predict / predict_proba / score``, ``get_params /
set_params``, ``random_state``), so ``GridSearchCV``, ``cross_val_score`` and ``clone`` work on all of them
alike. After ``fit`` each one also tells the runner what it cost: ``n_params_`` (trainable scalars),
``circuit_executions_`` (circuits run during fit, ``0`` for classical models, ``None`` where the backend
cannot count) and ``n_qubits_`` (``0`` for classical models); :func:`fitted_stats` reads them for any
estimator, including plain scikit-learn ones.

The quantum models follow the families of the qml-benchmarks study (Bowles, Ahmed & Schuld,
arXiv:2403.07059):

* ``vqc``: angle embedding, then a trainable entangling ansatz, then a linear read-out of the <Z_i>;
* ``drc``: data re-uploading classifier, the features re-encoded before every trainable layer;
* ``iqp``: an IQP (Hadamard, Z and ZZ rotations) embedding followed by a trainable ansatz;
* ``dressed``: the dressed quantum circuit (Mari et al. 2020), linear -> tanh * pi/2 -> circuit -> linear;
* ``hybrid-mlp``: an MLP encoder -> circuit -> linear head;
* ``<name>-sep``: the same model with ``entangling=False`` (no two-qubit gates), the control that shows
  whether entanglement matters.
* ``sepv``: the study's separable variational classifier, one-qubit circuits per feature (:mod:`.variational`);
* ``iqp-kernel``, ``pqk``, ``sep-kernel``: support vector machines on quantum kernels (:mod:`.kernels`).

Classical baselines: the torch ``mlp`` (:class:`MLPClassifier`), ``mlp-sk`` (the study's own baseline:
scikit-learn's ``MLPClassifier`` with hidden layers ``(100, 100)`` and ``max_iter=3000``), ``svc`` (RBF
kernel) and ``logreg``.

>>> from qhybrid.hybrid.models import make_model
>>> clf = make_model("dressed", backend="default", n_qubits=2, max_epochs=2, random_state=0)
>>> clf.fit([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], [0, 1, 0, 1]).predict([[0.0, 1.0]]).shape
(1,)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from qhybrid.classical.validation import (
    ArgumentTypeError,
    check_bool,
    check_float,
    check_int,
    check_seed,
    describe,
)
from qhybrid.hybrid.fitting import check_training, fit_module
from qhybrid.hybrid.kernels import (
    IQPKernelClassifier,
    ProjectedKernelClassifier,
    SeparableKernelClassifier,
)

__all__ = [
    "DRCClassifier",
    "DressedQuantumClassifier",
    "HybridMLPClassifier",
    "IQPClassifier",
    "MLPClassifier",
    "TorchClassifier",
    "VQCClassifier",
    "fitted_stats",
    "make_model",
    "model_family",
    "model_names",
]

_MAX_DEFAULT_QUBITS = 8


# --------------------------------------------------------------------------------------------- base class


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Shared fit/predict for models that are a ``torch.nn.Module`` mapping features to class logits (the
    base of every torch model here and in :mod:`.variational`).

    Subclasses implement ``_build(n_features, n_classes) -> nn.Module`` and store only their arguments in
    ``__init__`` (the scikit-learn convention that makes ``clone`` and grid search work).

    After ``fit``: ``loss_curve_`` (mean training loss per epoch), ``n_steps_`` (optimiser steps run) and
    ``converged_`` (``True`` only where ``convergence`` stopped training; a fit that reaches ``max_steps``
    first warns with scikit-learn's ``ConvergenceWarning``).
    """

    def _build(self, n_features: int, n_classes: int) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _quantum_layers(self) -> list[nn.Module]:
        return []

    def _fit_inputs(self, X: np.ndarray) -> None:
        """Set what the built ``module_`` learns from the validated training inputs before it is trained
        (nothing here; the separable classifier fits its feature scaling)."""

    def _l2(self) -> float:
        """The L2 penalty on the weight matrices (``alpha`` of :class:`MLPClassifier`; 0 for the others):
        scikit-learn's ``alpha / (2 * batch_size) * sum ||W||^2`` added to each batch's loss, which is
        Adam's coupled weight decay ``alpha / batch_size`` on the weight matrices only (not the biases)."""
        return 0.0

    def _check_params(self) -> None:
        """Refuse a bad constructor argument with one error naming it, its value and what is allowed.

        Called first thing in ``fit`` (and by ``hybrid.validation.check_experiment`` before any cell of a
        run), never in ``__init__``: scikit-learn's ``clone``, ``get_params`` and ``set_params`` keep any
        value, as they do for its own estimators."""
        check_int("max_epochs", self.max_epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_float("lr", self.lr, 0, low_open=True)
        _check_random_state(self.random_state)
        check_training(self.convergence, self.max_steps)

    def _device(self) -> torch.device:
        return torch.device("cpu")

    def fit(self, X, y) -> TorchClassifier:
        """Train from scratch on ``(X, y)`` with Adam on the cross-entropy; returns ``self``."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, got 1 class ({self.classes_[0]!r})"
            )
        seed = _seed_from(self.random_state)
        torch.manual_seed(seed)
        device = self._device()
        self.module_ = self._build(X.shape[1], len(self.classes_)).to(device)
        self._fit_inputs(X)
        self.n_qubits_ = sum(int(getattr(q, "n_qubits", 0)) for q in self._quantum_layers())
        self.n_params_ = sum(p.numel() for p in self.module_.parameters() if p.requires_grad)
        alpha = self._l2()
        self.loss_curve_, self.n_steps_, self.converged_ = fit_module(
            self.module_,
            X,
            y_idx,
            optimizer=_adam_l2(float(self.lr), alpha / int(self.batch_size)) if alpha > 0 else "adam",
            lr=self.lr,
            batch_size=self.batch_size,
            seed=seed,
            device=device,
            max_epochs=self.max_epochs,
            max_steps=self.max_steps,
            convergence=self.convergence,
            name=type(self).__name__,
        )
        # the layers are new in every fit, so their counters hold exactly the training circuits
        self.circuit_executions_ = sum(int(q.circuit_executions) for q in self._quantum_layers())
        return self

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        device = next(self.module_.parameters()).device
        self.module_.eval()
        outs = []
        with torch.no_grad():
            for start in range(0, len(X), 4096):
                outs.append(
                    self.module_(torch.as_tensor(X[start : start + 4096], device=device)).float().cpu()
                )
        self.module_.train()
        return torch.cat(outs) if outs else torch.zeros(0, len(self.classes_))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return torch.softmax(self._logits(X), dim=1).numpy().astype(np.float64)

    def decision_function(self, X) -> np.ndarray:
        """Logits (for two classes: the logit difference, positive for ``classes_[1]``)."""
        logits = self._logits(X).numpy().astype(np.float64)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        best = self._logits(X).argmax(dim=1).numpy()
        return self.classes_[best]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


def _check_random_state(random_state) -> None:
    """``random_state``: ``None``, a numpy ``RandomState``, or a seed as every qhybrid entry point takes it
    (an int >= 0, :func:`qhybrid.classical.validation.check_seed`)."""
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)):
        raise ArgumentTypeError(
            f"random_state must be an integer >= 0, a numpy RandomState or None, got {describe(random_state)}"
        )
    check_seed("random_state", random_state)


def _seed_from(random_state) -> int:
    """The int seed of a ``random_state`` (checked by :func:`_check_random_state`); ``None`` and a
    ``RandomState`` draw one."""
    _check_random_state(random_state)
    if random_state is None:
        return int(np.random.randint(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)


def _check_hidden(hidden) -> None:
    """Hidden layer widths: a list or tuple of ints >= 1 (``(64, 64)``, ``[8]``, ``()``)."""
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple)):
        raise ArgumentTypeError(
            f"hidden must be a list or tuple of integers >= 1 (layer widths), got {describe(hidden)}"
        )
    for i, width in enumerate(hidden):
        check_int(f"hidden[{i}]", width, 1)


def _adam_l2(lr: float, decay: float):
    """``params -> Adam`` with weight decay ``decay`` on the weight matrices and none on the biases."""

    def make(params):
        weights = [p for p in params if p.ndim > 1]
        others = [p for p in params if p.ndim <= 1]
        groups = [{"params": weights, "weight_decay": decay}, {"params": others, "weight_decay": 0.0}]
        return torch.optim.Adam([g for g in groups if g["params"]], lr=lr)

    return make


# --------------------------------------------------------------------------------------------- classical


class MLPClassifier(TorchClassifier):
    """A PyTorch multi-layer perceptron (``classical.MLP``) trained with Adam.

    Args:
        hidden: hidden layer widths.
        activation: ``relu``, ``gelu``, ``tanh`` or ``silu``.
        max_epochs, lr, batch_size: the training budget.
        max_steps, convergence: as for :class:`VQCClassifier`.
        alpha: L2 penalty on the weight matrices, with scikit-learn's ``MLPClassifier`` meaning: each
            minibatch's loss is its mean cross-entropy plus ``alpha / (2 * batch_size) * sum ||W||^2``
            (scikit-learn divides by the size of each minibatch, so its short last batch weighs the penalty
            a little more; biases are not penalised). 0 (the default) trains without it.
        accelerator: where to train (``cpu``, ``cuda``, ``auto``, ...; see ``classical.resolve_accelerator``).
        random_state: seed for the initial weights and the batch order.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 64),
        activation: str = "relu",
        max_epochs: int = 100,
        lr: float = 0.01,
        batch_size: int = 32,
        alpha: float = 0.0,
        max_steps: int | None = None,
        convergence: str | None = None,
        accelerator: str = "cpu",
        random_state=None,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.alpha = alpha
        self.max_steps = max_steps
        self.convergence = convergence
        self.accelerator = accelerator
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        _check_hidden(self.hidden)
        check_float("alpha", self.alpha, 0)

    def _l2(self) -> float:
        return float(self.alpha)

    def _device(self) -> torch.device:
        from qhybrid.classical.accelerators import resolve_accelerator

        return resolve_accelerator(self.accelerator).device

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        from qhybrid.classical.models import MLP

        return MLP(
            n_features, n_classes, hidden=tuple(int(w) for w in self.hidden), activation=self.activation
        )


# --------------------------------------------------------------------------------------------- quantum


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

    def _check_params(self) -> None:
        super()._check_params()
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
            seed=_seed_from(self.random_state) if self.random_state is not None else None,
        )

    def _quantum_layers(self) -> list[nn.Module]:
        return [m for m in self.module_.modules() if hasattr(m, "n_qubits") and m is not self.module_]

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        n_qubits = self._width(n_features)
        layer = self._make_layer(n_features, n_qubits, self._embedding)
        # <Z_i> lie in [-1, 1]; a linear read-out turns them into class logits of any scale
        return nn.Sequential(layer, nn.Linear(layer.n_qubits, n_classes))


def _quantum_init(
    self,
    n_qubits,
    n_layers,
    backend,
    ansatz,
    entangling,
    shots,
    max_epochs,
    lr,
    batch_size,
    random_state,
    max_steps,
    convergence,
):
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


class VQCClassifier(_QuantumClassifier):
    """Variational quantum classifier: angle embedding, trainable ansatz, linear read-out of <Z_i>.

    Args:
        n_qubits: circuit width (default: the number of features, at most 8; further features are
            encoded on the same qubits, the layer cycles them over the wires).
        n_layers: ansatz layers.
        backend: a ``qml.backend_names()`` name (``aer``, ``default``, ``lightning``, ...).
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
        backend: str = "aer",
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
        _quantum_init(
            self,
            n_qubits,
            n_layers,
            backend,
            ansatz,
            entangling,
            shots,
            max_epochs,
            lr,
            batch_size,
            random_state,
            max_steps,
            convergence,
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
        backend: str = "aer",
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
        _quantum_init(
            self,
            n_qubits,
            n_layers,
            backend,
            ansatz,
            entangling,
            shots,
            max_epochs,
            lr,
            batch_size,
            random_state,
            max_steps,
            convergence,
        )

    def _default_qubits(self, n_features: int) -> int:
        return min(max(1, math.ceil(n_features / 3)), _MAX_DEFAULT_QUBITS)

    def _check_params(self) -> None:
        super()._check_params()
        check_float("input_scale", self.input_scale, allow_none=True)

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        model = super()._build(n_features, n_classes)
        if self.input_scale is None:
            return model
        return nn.Sequential(_InputScale(n_features, self.input_scale), *model)


class IQPClassifier(_QuantumClassifier):
    """IQP variational classifier (Havlíček et al. 2019): Hadamards, Z rotations by the features and ZZ
    rotations by their products, then a trainable ansatz. Parameters as for :class:`VQCClassifier`."""

    _embedding = "iqp"

    def __init__(
        self,
        n_qubits: int | None = None,
        n_layers: int = 2,
        backend: str = "aer",
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
        _quantum_init(
            self,
            n_qubits,
            n_layers,
            backend,
            ansatz,
            entangling,
            shots,
            max_epochs,
            lr,
            batch_size,
            random_state,
            max_steps,
            convergence,
        )


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
        backend: str = "aer",
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
        _quantum_init(
            self,
            n_qubits,
            n_layers,
            backend,
            ansatz,
            entangling,
            shots,
            max_epochs,
            lr,
            batch_size,
            random_state,
            max_steps,
            convergence,
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
        backend: str = "aer",
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
        _quantum_init(
            self,
            n_qubits,
            n_layers,
            backend,
            ansatz,
            entangling,
            shots,
            max_epochs,
            lr,
            batch_size,
            random_state,
            max_steps,
            convergence,
        )

    def _check_params(self) -> None:
        super()._check_params()
        _check_hidden(self.hidden)

    def _encoder(self, n_features: int, n_qubits: int) -> nn.Module:
        from qhybrid.classical.models import MLP

        return MLP(n_features, n_qubits, hidden=tuple(int(w) for w in self.hidden), activation="relu")


# --------------------------------------------------------------------------------------------- registry


def _svc(**params):
    from sklearn.svm import SVC

    return SVC(**params)


def _mlp_sk(**params):
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    # the study's MLPClassifier: scikit-learn's with two hidden layers of 100 and up to 3000 epochs
    return SkMLPClassifier(**{"hidden_layer_sizes": (100, 100), "max_iter": 3000, **params})


def _sepv(**params):
    from qhybrid.hybrid.variational import SeparableVariationalClassifier  # it subclasses TorchClassifier

    return SeparableVariationalClassifier(**params)


def _logreg(**params):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{"max_iter": 1000, **params})


# name -> (factory, fixed keyword arguments, family)
_REGISTRY: dict[str, tuple[Any, dict, str]] = {
    "mlp": (MLPClassifier, {}, "classical"),
    "svc": (_svc, {}, "classical"),
    "logreg": (_logreg, {}, "classical"),
    "mlp-sk": (_mlp_sk, {}, "classical"),
    "vqc": (VQCClassifier, {}, "quantum"),
    "vqc-sep": (VQCClassifier, {"entangling": False}, "quantum"),
    "drc": (DRCClassifier, {}, "quantum"),
    "drc-sep": (DRCClassifier, {"entangling": False}, "quantum"),
    "iqp": (IQPClassifier, {}, "quantum"),
    "iqp-sep": (IQPClassifier, {"entangling": False}, "quantum"),
    "dressed": (DressedQuantumClassifier, {}, "hybrid"),
    "dressed-sep": (DressedQuantumClassifier, {"entangling": False}, "hybrid"),
    "hybrid-mlp": (HybridMLPClassifier, {}, "hybrid"),
    "hybrid-mlp-sep": (HybridMLPClassifier, {"entangling": False}, "hybrid"),
    # the study's separable variational classifier (hybrid/variational.py): one-qubit circuits per feature
    "sepv": (_sepv, {}, "quantum"),
    # quantum kernels (hybrid/kernels.py): an SVM on a Gram matrix of circuits
    "iqp-kernel": (IQPKernelClassifier, {}, "quantum"),
    "pqk": (ProjectedKernelClassifier, {}, "quantum"),
    "sep-kernel": (SeparableKernelClassifier, {}, "quantum"),
}


def model_names() -> list[str]:
    """Names :func:`make_model` accepts."""
    return list(_REGISTRY)


def _check_model_name(name: str) -> None:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(_REGISTRY)}")


def model_family(name: str) -> str:
    """``classical``, ``quantum`` or ``hybrid``: which axis (accelerator or backend) applies to a model."""
    _check_model_name(name)
    return _REGISTRY[name][2]


def make_model(
    name: str,
    *,
    backend: str | None = None,
    accelerator: str | None = None,
    random_state: int | None = None,
    **params: Any,
):
    """Build an unfitted estimator by registry name.

    ``backend`` applies to quantum and hybrid models, ``accelerator`` to the torch-based classical ``mlp``;
    ``params`` are passed to the estimator (unknown ones fail with the allowed names).

    >>> make_model("svc", C=2.0).C
    2.0
    """
    _check_model_name(name)
    factory, fixed, family = _REGISTRY[name]
    kwargs = {**fixed, **params, "random_state": random_state}
    if family != "classical" and backend is not None:
        kwargs["backend"] = backend
    if family == "classical" and backend is not None:
        raise ValueError(
            f"model {name!r} is classical and takes no backend (got {backend!r}); use accelerator"
        )
    if accelerator is not None:
        if name != "mlp":
            raise ValueError(f"model {name!r} takes no accelerator (got {accelerator!r}); only 'mlp' does")
        kwargs["accelerator"] = accelerator
    try:
        return factory(**kwargs)
    except TypeError as err:
        probe = factory()
        allowed = ", ".join(sorted(probe.get_params(deep=False)))
        raise ValueError(f"bad parameter for model {name!r} ({err}); allowed: {allowed}") from None


def fitted_stats(estimator) -> dict[str, int | bool | None]:
    """``n_params``, ``circuit_executions`` and ``n_qubits`` of a fitted estimator (ours or scikit-learn's
    SVC / logistic regression / anything with ``coef_``), looking through a ``Pipeline`` or a search
    object's ``best_estimator_``; for the torch models also ``n_steps`` (optimiser steps) and
    ``converged``."""
    est = getattr(estimator, "best_estimator_", estimator)
    if hasattr(est, "steps"):
        est = est.steps[-1][1]
    if hasattr(est, "n_params_"):
        stats = {
            "n_params": int(est.n_params_),
            "circuit_executions": est.circuit_executions_,
            "n_qubits": int(est.n_qubits_),
        }
        if hasattr(est, "n_steps_"):
            stats.update(n_steps=int(est.n_steps_), converged=bool(est.converged_))
        return stats
    n_params = None
    if hasattr(est, "support_vectors_"):  # kernel SVM: the support vectors and their dual weights
        n_params = int(est.support_vectors_.size + est.dual_coef_.size + est.intercept_.size)
    elif hasattr(est, "coefs_"):  # scikit-learn's MLP: weight matrices and biases per layer
        n_params = int(sum(np.size(w) for w in est.coefs_) + sum(np.size(b) for b in est.intercepts_))
    elif hasattr(est, "coef_"):
        n_params = int(np.size(est.coef_) + np.size(getattr(est, "intercept_", 0)))
    return {"n_params": n_params, "circuit_executions": 0, "n_qubits": 0}
