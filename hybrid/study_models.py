"""The qml-benchmarks study's own dressed quantum circuit and data re-uploading classifiers (Bowles, Ahmed &
Schuld, arXiv:2403.07059; ``DressedQuantumCircuitClassifier`` and ``DataReuploadingClassifier`` in its
``models/``), beside qhybrid's ``dressed`` and ``drc`` (:mod:`.quantum_models`), which differ from them.

* :class:`DQCStudyClassifier` (``dqc-study``): the inputs standardised (a ``StandardScaler`` fitted in
  ``fit``) and multiplied by ``scaling``; ``a = tanh(W_in x) * pi/2`` with ``W_in`` ``(n, n)`` and no bias;
  on ``n = n_features`` qubits ``H, RY(a_i)`` on every wire, then ``n_layers`` times ``RY(w_li)`` on every
  wire and a ring of CNOTs ``(i, i+1 mod n)`` (one CNOT on two wires, none on one); class logits
  ``W_out <Z>`` with no bias, trained on their softmax cross-entropy. ``W_in`` and ``W_out`` start
  ``N(0, 1) / n_features``, the ``w`` uniform in ``[0, 2 pi)``. Defaults: ``n_layers=3``, ``lr=0.001``,
  ``max_steps=100000``.
* :class:`DRCStudyClassifier` (``drc-study``): the inputs scaled to ``[-pi/2, pi/2]`` (a ``MinMaxScaler``),
  times ``scaling``, padded with zeros to ``3 n`` features on ``n = ceil(n_features / 3)`` qubits. Layer
  ``l < L`` puts ``Rot(x_3i..3i+2 * omega_l,3i..3i+2)`` and then ``Rot(theta_i,l)`` on wire ``i``, then CZs on
  the pairs ``(0, 1), (2, 3), ...`` (``l`` even) or ``(1, 2), (3, 4), ...`` (``l`` odd); a last upload
  ``Rot(x * omega_L + theta_i,L)`` follows, with no CZs. The first ``m`` wires (``observable_type``:
  ``single`` 1, ``half`` ``max(1, n // 2)``, ``full`` ``n``) give ``p_j = (1 + <Z_j>) / 2``; a sample of
  the second class has loss ``1/2 sum_j (alpha_0j (1 - p_j))^2 + (alpha_1j p_j - 1)^2``, one of the first
  ``1/2 sum_j (alpha_0j (1 - p_j) - 1)^2 + (alpha_1j p_j)^2``; the batch's loss is their mean.
  ``predict_proba`` is ``((1 - f) / 2, (1 + f) / 2)`` with ``f`` the mean of those ``<Z_j>`` (the
  ``alpha`` only weigh the loss). ``theta`` and ``omega`` start uniform in ``[0, 1)``, ``alpha`` at 1.
  Defaults: ``n_layers=4``, ``observable_type="single"``, ``lr=0.05``, ``max_steps=10000``.

Both train as qhybrid's torch models do (:mod:`.fitting`: Adam, ``batch_size=32``, the study's convergence
criterion by default), their parameters and circuits in float64 (the training inputs arrive in float32, as
for every torch model here; ``predict`` reads them in float64). That loop minimises a cross-entropy: the
re-uploading model hands it three logits whose cross-entropy is the study's loss plus ``log 2``
(``_ReuploadingModel.forward``), and ``loss_curve_`` takes the ``log 2`` off again. The study's classes are
-1 and 1; here ``classes_[0]`` plays -1 and ``classes_[1]`` plays 1. ``params_`` holds the trained
parameters in the study's names and shapes.

>>> from qhybrid.hybrid.study_models import DRCStudyClassifier
>>> X, y = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], [0, 1, 0, 1]
>>> clf = DRCStudyClassifier(n_layers=1, convergence=None, max_epochs=2, random_state=0).fit(X, y)
>>> clf.predict_proba(X).shape, clf.n_qubits_, clf.params_["omegas"].shape
((4, 2), 1, (2, 3))
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from qhybrid.classical.validation import ArgumentTypeError, check_float, check_int, describe, detached
from qhybrid.hybrid.estimators import TorchClassifier
from qhybrid.qml import QuantumLayer
from qhybrid.qml.circuits import Embedding

__all__ = ["OBSERVABLE_TYPES", "DQCStudyClassifier", "DRCStudyClassifier"]

#: ``observable_type`` of the re-uploading classifier: how many wires make its class score
OBSERVABLE_TYPES = ("single", "half", "full")


def _ring(n: int) -> list[tuple[int, int]]:
    """The wire pairs of a CNOT ring: none on one wire, one on two (not the same pair twice), else n."""
    if n < 2:
        return []
    return [(0, 1)] if n == 2 else [(i, (i + 1) % n) for i in range(n)]


def _cz_pairs(n: int, odd: bool) -> list[tuple[int, int]]:
    """Neighbouring pairs from wire 0 (``(0, 1), (2, 3), ...``) or, ``odd``, from wire 1 (``(1, 2), ...``)."""
    return [(i, i + 1) for i in range(int(odd), n - 1, 2)]


def _encoded_in_circuit(x, wires) -> None:  # pragma: no cover - the layers' own circuit() is what runs
    raise NotImplementedError("the study layers' circuit() encodes their inputs")


def _takes(n_inputs: int, n_wires: int) -> int:
    return n_inputs


def _own_encoding(name: str, n_inputs: int) -> Embedding:
    """The embedding record of a layer whose ``circuit`` encodes its inputs itself: its name, and the number
    of inputs it takes (module-level functions, so that the layer pickles)."""
    return Embedding(name, _encoded_in_circuit, functools.partial(_takes, n_inputs), exact_features=True)


class _DressedCircuit(QuantumLayer):
    """``(batch, n)`` angles -> ``<Z_i>`` of the study's dressed circuit; ``weights`` ``(n_layers, n)``."""

    def __init__(self, n_qubits: int, n_layers: int, *, backend: str, shots: int | None, seed: int) -> None:
        embedding = _own_encoding("hadamard_ry", n_qubits)
        super().__init__(
            n_qubits, n_qubits, n_layers, backend=backend, embedding=embedding, shots=shots, seed=seed
        )
        init = torch.rand((n_layers, n_qubits), dtype=torch.float64) * 2 * math.pi
        self.weights = nn.Parameter(init)

    def circuit(self, inputs, weights):
        import pennylane as qp

        wires = range(self.n_qubits)
        for i in wires:
            qp.Hadamard(wires=i)
            qp.RY(inputs[..., i], wires=i)
        for layer in range(self.n_layers):
            for i in wires:
                qp.RY(weights[layer, i], wires=i)
            for pair in _ring(self.n_qubits):
                qp.CNOT(wires=pair)
        return [qp.expval(qp.Z(i)) for i in wires]

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, n_layers={self.n_layers}, backend={self.backend!r}{self._ran_on()}"


class _ReuploadingCircuit(QuantumLayer):
    """The study's re-uploading circuit. Inputs ``(batch, (n_layers + 1) * 3 n)``: the angles
    ``x * omega`` of every upload, row-major ``(upload, 3 n)``; ``weights`` are the study's ``thetas``
    ``(n, n_layers + 1, 3)``."""

    def __init__(self, n_qubits: int, n_layers: int, *, backend: str, shots: int | None, seed: int) -> None:
        n_inputs = (n_layers + 1) * 3 * n_qubits
        embedding = _own_encoding("reupload_rot", n_inputs)
        super().__init__(
            n_inputs, n_qubits, n_layers, backend=backend, embedding=embedding, shots=shots, seed=seed
        )
        self.weights = nn.Parameter(torch.rand((n_qubits, n_layers + 1, 3), dtype=torch.float64))

    def circuit(self, inputs, weights):
        import pennylane as qp

        n, last = self.n_qubits, self.n_layers

        def angle(upload, wire, k):
            return inputs[..., (upload * n + wire) * 3 + k]

        for layer in range(last):
            for i in range(n):
                qp.Rot(angle(layer, i, 0), angle(layer, i, 1), angle(layer, i, 2), wires=i)
                qp.Rot(weights[i, layer, 0], weights[i, layer, 1], weights[i, layer, 2], wires=i)
            for pair in _cz_pairs(n, odd=layer % 2 == 1):
                qp.CZ(wires=pair)
        # the last upload, Rot(x * omega + theta) = RZ(c) RY(b) RZ(a): each rotation split into its input and
        # weight halves (rotations about one axis add), so that every gate angle is one input or one weight
        for i in range(n):
            for k, gate in enumerate((qp.RZ, qp.RY, qp.RZ)):
                gate(angle(last, i, k), wires=i)
                gate(weights[i, last, k], wires=i)
        return [qp.expval(qp.Z(i)) for i in range(n)]

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, n_layers={self.n_layers}, backend={self.backend!r}{self._ran_on()}"


class _StudyModel(nn.Module):
    """Raw features -> the study's scaled features ``x * scale + shift`` (float64; set from the training
    data in ``fit``) -> the model's circuit."""

    def __init__(self, n_features: int, circuit: QuantumLayer) -> None:
        super().__init__()
        self.circuit = circuit
        self.register_buffer("scale", torch.ones(n_features, dtype=torch.float64))
        self.register_buffer("shift", torch.zeros(n_features, dtype=torch.float64))

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float64) * self.scale + self.shift


class _DressedModel(_StudyModel):
    """Training outputs and scores are the class logits ``W_out <Z>``."""

    def __init__(self, n_features: int, n_classes: int, circuit: _DressedCircuit) -> None:
        super().__init__(n_features, circuit)
        n = circuit.n_qubits
        self.input_weights = nn.Parameter(torch.randn((n, n), dtype=torch.float64) / n_features)
        self.output_weights = nn.Parameter(torch.randn((n_classes, n), dtype=torch.float64) / n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = torch.tanh(self.scaled(x) @ self.input_weights.T) * (math.pi / 2)
        return self.circuit(angles) @ self.output_weights.T

    scores = forward


class _ReuploadingModel(_StudyModel):
    """Scores: the mean ``<Z>`` of the first ``n_observed`` wires. Training outputs: three logits whose
    softmax cross-entropy is the study's fidelity loss plus ``log 2`` (:meth:`forward`)."""

    def __init__(self, n_features: int, n_observed: int, circuit: _ReuploadingCircuit) -> None:
        super().__init__(n_features, circuit)
        self.n_observed = n_observed
        n_angles = 3 * circuit.n_qubits
        self.omegas = nn.Parameter(torch.rand((circuit.n_layers + 1, n_angles), dtype=torch.float64))
        self.alphas = nn.Parameter(torch.ones((2, n_observed), dtype=torch.float64))

    def expvals(self, x: torch.Tensor) -> torch.Tensor:
        """``<Z_j>`` of the observed wires, ``(batch, n_observed)``."""
        x = self.scaled(x)
        padded = nn.functional.pad(x, (0, self.omegas.shape[1] - x.shape[1]))
        angles = (padded[:, None, :] * self.omegas).reshape(len(x), -1)
        return self.circuit(angles)[:, : self.n_observed]

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.expvals(x).mean(dim=1)

    def losses(self, x: torch.Tensor) -> torch.Tensor:
        """Each sample's loss were its label the first class (column 0) or the second (column 1)."""
        p = (1 + self.expvals(x)) / 2  # probability of |0>: the second class's target
        a0, a1 = self.alphas[0] * (1 - p), self.alphas[1] * p
        first = ((a0 - 1) ** 2 + a1**2).sum(dim=1) / 2
        second = (a0**2 + (a1 - 1) ** 2).sum(dim=1) / 2
        return torch.stack([first, second], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``z = (-l_0 - log 2, -l_1 - log 2, log(1 - (e^-l_0 + e^-l_1) / 2))``: the softmax denominator
        of ``z`` is 1, so its cross-entropy for label ``c`` is ``l_c + log 2``, and its gradient that of
        ``l_c``: the study's loss, trained by qhybrid's cross-entropy fitting loop. The third logit is
        finite, since ``l_0 + l_1 >= 1/2`` for every ``alpha`` and ``p``."""
        half = self.losses(x) + math.log(2)
        rest = torch.log1p(-torch.exp(-half).sum(dim=1, keepdim=True))
        return torch.cat([-half, rest], dim=1)


class _StudyClassifier(TorchClassifier):
    """Shared checks, input scaling, float64 read-out and ``params_`` of the two study models."""

    _param_names: tuple[str, ...] = ()

    def check_params(self) -> None:
        super().check_params()
        check_int("n_layers", self.n_layers, 1)
        check_int("shots", self.shots, 1, allow_none=True)
        check_float("scaling", self.scaling)
        if not isinstance(self.backend, str):
            raise ArgumentTypeError(f"backend must be a backend name (str), got {describe(self.backend)}")
        from qhybrid.qml.backends import backend_info

        backend_info(self.backend)  # an unknown name fails here, before any data is looked at

    def _fit_scaler(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """Fit ``scaler_`` on ``X``; its map as ``x -> x * scale + shift``."""
        raise NotImplementedError

    def _circuit_args(self) -> dict:
        seed = int(torch.randint(2**31 - 1, ()))  # from the fit's seeded torch generator
        shots = None if self.shots is None else int(self.shots)
        return {"backend": self.backend, "shots": shots, "seed": seed}

    def _fit_inputs(self, X: np.ndarray) -> None:
        # fitted in float64 on the (float32) training inputs, then times ``scaling``
        scale, shift = self._fit_scaler(X.astype(np.float64))
        self.module_.scale.copy_(torch.as_tensor(scale * float(self.scaling)))
        self.module_.shift.copy_(torch.as_tensor(shift * float(self.scaling)))

    def _quantum_layers(self) -> list[nn.Module]:
        return [self.module_.circuit]

    def _scores(self, X) -> np.ndarray:
        """The module's class scores in float64 (logits; the re-uploading model's mean ``<Z>``)."""
        check_is_fitted(self, "module_")
        X = validate_data(self, detached(X), dtype=np.float64, reset=False)
        with torch.no_grad():
            chunks = [self.module_.scores(torch.as_tensor(X[i : i + 4096])) for i in range(0, len(X), 4096)]
        return torch.cat(chunks).numpy()

    def predict(self, X) -> np.ndarray:
        """The class of the larger probability (the first on a tie), as the study predicts."""
        best = np.argmax(self.predict_proba(X), axis=1)
        return self.classes_[best]

    @property
    def params_(self) -> dict[str, np.ndarray]:
        """The trainable parameters, in the study's names and shapes."""
        check_is_fitted(self, "module_")
        return {name: self._study_param(name).detach().numpy().copy() for name in self._param_names}

    def _study_param(self, name: str) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class DQCStudyClassifier(_StudyClassifier):
    """The study's dressed quantum circuit classifier (see the module docstring), on ``n_features`` qubits.
    With more than two classes the output layer has a row per class (the study has two).

    Args:
        n_layers: layers of ``RY`` rotations and CNOT ring.
        backend: a ``qml.backend_choices()`` name: ``auto`` (default: the torch engine for exact runs, Aer
            for shots), ``torch``, ``aer``, ``default``, ``lightning``, ...
        shots: ``None`` for exact expectation values.
        scaling: factor on the standardised features.
        max_epochs, lr, batch_size, max_steps, convergence: the training, as for
            :class:`~qhybrid.hybrid.models.VQCClassifier` (``max_epochs`` only with ``convergence=None``).
        random_state: seed for the weights, the batch order and the simulator.

    After ``fit``, besides the torch models' attributes: ``scaler_`` (the ``StandardScaler``) and
    ``params_`` (``input_weights``, ``circuit_weights``, ``output_weights``).
    """

    _param_names = ("input_weights", "circuit_weights", "output_weights")

    def __init__(
        self,
        n_layers: int = 3,
        backend: str = "auto",
        shots: int | None = None,
        scaling: float = 1.0,
        max_epochs: int = 30,
        lr: float = 0.001,
        batch_size: int = 32,
        max_steps: int | None = 100_000,
        convergence: str | None = "qml-benchmarks",
        random_state=None,
    ) -> None:
        self.n_layers = n_layers
        self.backend = backend
        self.shots = shots
        self.scaling = scaling
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.convergence = convergence
        self.random_state = random_state

    def _fit_scaler(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.scaler_ = StandardScaler().fit(X)
        return 1 / self.scaler_.scale_, -self.scaler_.mean_ / self.scaler_.scale_

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        circuit = _DressedCircuit(n_features, int(self.n_layers), **self._circuit_args())
        return _DressedModel(n_features, n_classes, circuit)

    def _study_param(self, name: str) -> torch.Tensor:
        return self.module_.circuit.weights if name == "circuit_weights" else getattr(self.module_, name)

    def predict_proba(self, X) -> np.ndarray:
        """The softmax of the class logits, columns in the order of ``classes_``."""
        return torch.softmax(torch.as_tensor(self._scores(X)), dim=1).numpy()

    def decision_function(self, X) -> np.ndarray:
        """The logits (for two classes: their difference, positive for ``classes_[1]``)."""
        logits = self._scores(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits


def _observed_wires(observable_type: str, n_qubits: int) -> int:
    """The wires whose ``<Z>`` make the re-uploading classifier's score (the study's observable_weight)."""
    return {"single": 1, "half": max(1, n_qubits // 2), "full": n_qubits}[observable_type]


class DRCStudyClassifier(_StudyClassifier):
    """The study's data re-uploading classifier (see the module docstring), on ``ceil(n_features / 3)``
    qubits; two classes.

    Args:
        n_layers: ``L``, the uploads followed by CZs; the data is uploaded ``L + 1`` times.
        observable_type: ``single``, ``half`` or ``full``: the first wire, the first half (at least one)
            or every wire make the class score and the loss.
        backend, shots, scaling, max_epochs, lr, batch_size, max_steps, convergence, random_state: as for
            :class:`DQCStudyClassifier` (``scaling`` on the features scaled to ``[-pi/2, pi/2]``).

    After ``fit``, besides the torch models' attributes: ``scaler_`` (the ``MinMaxScaler``), ``params_``
    (``thetas``, ``omegas``, ``alphas``) and ``loss_curve_`` in the study's loss.
    """

    _param_names = ("thetas", "omegas", "alphas")

    def __init__(
        self,
        n_layers: int = 4,
        observable_type: str = "single",
        backend: str = "auto",
        shots: int | None = None,
        scaling: float = 1.0,
        max_epochs: int = 30,
        lr: float = 0.05,
        batch_size: int = 32,
        max_steps: int | None = 10_000,
        convergence: str | None = "qml-benchmarks",
        random_state=None,
    ) -> None:
        self.n_layers = n_layers
        self.observable_type = observable_type
        self.backend = backend
        self.shots = shots
        self.scaling = scaling
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.convergence = convergence
        self.random_state = random_state

    def check_params(self) -> None:
        super().check_params()
        if not isinstance(self.observable_type, str) or self.observable_type not in OBSERVABLE_TYPES:
            raise ValueError(
                f"observable_type must be one of {', '.join(map(repr, OBSERVABLE_TYPES))}, "
                f"got {self.observable_type!r}"
            )

    def _fit_scaler(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.scaler_ = MinMaxScaler(feature_range=(-math.pi / 2, math.pi / 2)).fit(X)
        return self.scaler_.scale_, self.scaler_.min_

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        if n_classes != 2:
            raise ValueError(
                f"Only binary classification is supported: DRCStudyClassifier is a two-class model "
                f"(fidelities to |0> and |1>); y has {n_classes} classes"
            )
        n_qubits = math.ceil(n_features / 3)
        circuit = _ReuploadingCircuit(n_qubits, int(self.n_layers), **self._circuit_args())
        return _ReuploadingModel(n_features, _observed_wires(self.observable_type, n_qubits), circuit)

    def _study_param(self, name: str) -> torch.Tensor:
        return self.module_.circuit.weights if name == "thetas" else getattr(self.module_, name)

    def fit(self, X, y) -> DRCStudyClassifier:
        """Scale ``X``, then train as the other torch models train; returns ``self``."""
        super().fit(X, y)
        # the training outputs' cross-entropy is the study's loss plus log 2 (_ReuploadingModel.forward)
        self.loss_curve_ = [loss - math.log(2) for loss in self.loss_curve_]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``((1 - f) / 2, (1 + f) / 2)``, ``f`` the mean ``<Z>`` of the observed wires."""
        f = self._scores(X)
        return np.column_stack([(1 - f) / 2, (1 + f) / 2])

    def decision_function(self, X) -> np.ndarray:
        """``f``, the mean ``<Z>`` of the observed wires: positive for ``classes_[1]``."""
        return self._scores(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
