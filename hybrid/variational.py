"""Variational classifiers of the qml-benchmarks study (Bowles, Ahmed & Schuld, arXiv:2403.07059) that have
no counterpart among the models of :mod:`.models`.

* :class:`SeparableVariationalClassifier` (``sepv``): the study's separable variational classifier, a model
  without entanglement. Each feature ``x_i`` (scaled to ``[-pi/2, pi/2]`` by a ``MinMaxScaler`` fitted on the
  training data, as in the study) has a one-qubit circuit of its own,

  .. math::

      U_i(x_i) = \\mathrm{Rot}(w_{i,L}) \\prod_{l=L-1}^{0} R_Y(x_i)\\, \\mathrm{Rot}(w_{i,l}),
      \\qquad f(x) = \\frac{1}{n} \\sum_{i=1}^{n} \\langle 0 | U_i^\\dagger Z U_i | 0 \\rangle,

  with ``L = encoding_layers`` and ``Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)``. The probability
  of the second class is ``sigmoid(6 f(x))`` and the model is trained on its cross-entropy. The weights
  start uniform in ``[0, 2 pi)``. As the study does, the circuits are simulated one qubit at a time: a batch
  of ``B`` samples is one broadcast run of ``B * n`` one-qubit circuits, so the cost grows linearly with the
  number of features (an ``n``-qubit product circuit on Aer took 100 s a step at 20 features).

Its defaults are the study's: ``encoding_layers=1``, ``lr=0.001``, ``batch_size=32`` and training until the
study's convergence criterion holds (``convergence="qml-benchmarks"``, at most ``max_steps=10000`` steps).
The study's ``predict_proba`` returns ``((1 - f) / 2, (1 + f) / 2)``, which is not the probability it trains;
this one returns the trained ``sigmoid(6 f)``. Both rank samples alike (ROC AUC) and predict the same class.

>>> from qhybrid.hybrid.variational import SeparableVariationalClassifier
>>> X, y = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], [0, 1, 0, 1]
>>> clf = SeparableVariationalClassifier(backend="default", convergence=None, max_epochs=2, random_state=0)
>>> clf.fit(X, y).predict_proba(X).shape, clf.n_qubits_, clf.n_params_
((4, 2), 2, 12)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from qhybrid.classical.validation import ArgumentTypeError, check_int, describe
from qhybrid.hybrid.models import TorchClassifier
from qhybrid.qml import QuantumLayer

__all__ = ["SeparableVariationalClassifier"]

# the study multiplies the mean <Z> by 6 "because a relevant domain of the sigmoid function is [-6, 6]"
_LOGIT_SCALE = 6.0


class _OneQubitCircuits(QuantumLayer):
    """``(batch, n_features)`` angles -> ``(batch, n_features)`` values ``<Z>`` of each feature's one-qubit
    circuit (``Rot(w_l)``, ``RY(x_i)`` for every layer ``l``, then ``Rot(w_L)``), run as one broadcast batch
    of ``batch * n_features`` one-qubit circuits. Row ``r`` of that batch is feature ``r % n_features``;
    the weights ``(n_features, encoding_layers + 1, 3)`` are per feature."""

    def __init__(
        self, n_features: int, encoding_layers: int, *, backend: str, shots: int | None, seed: int
    ) -> None:
        super().__init__(1, 1, encoding_layers + 1, backend=backend, shots=shots, seed=seed)
        self.n_features = n_features
        generator = torch.Generator().manual_seed(seed)
        shape = (n_features, encoding_layers + 1, 3)
        self.weights = nn.Parameter(torch.rand(shape, generator=generator, dtype=torch.float64) * 2 * math.pi)

    def circuit(self, inputs, weights):
        """The quantum function of the broadcast batch: ``inputs`` ``(rows, 1)`` angles, row ``r`` feature
        ``r % n_features``."""
        import pennylane as qp

        rows = inputs.shape[0] if inputs.ndim == 2 else 1
        w = weights[torch.arange(rows) % self.n_features]  # each row's feature weights (rows, L + 1, 3)
        x = inputs[..., 0]
        last = self.n_layers - 1
        for layer in range(last):
            qp.Rot(w[:, layer, 0], w[:, layer, 1], w[:, layer, 2], wires=0)
            qp.RY(x, wires=0)
        qp.Rot(w[:, last, 0], w[:, last, 1], w[:, last, 2], wires=0)
        return [qp.expval(qp.Z(0))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (batch, {self.n_features}), got {tuple(x.shape)}")
        return super().forward(x.reshape(-1, 1)).reshape(x.shape[0], self.n_features)

    def extra_repr(self) -> str:
        return (
            f"n_features={self.n_features} (a one-qubit circuit each), encoding_layers={self.n_layers - 1}, "
            f"backend={self.backend!r}, diff_method={self.diff_method!r}"
        )


class _SeparableModel(nn.Module):
    """Raw features -> scaled angles (float64) -> the one-qubit circuits -> logits ``(0, 6 f(x))``, whose
    softmax is ``(1 - sigmoid(6 f), sigmoid(6 f))``: the study's sigmoid cross-entropy is the softmax
    cross-entropy of these logits."""

    def __init__(self, circuits: _OneQubitCircuits) -> None:
        super().__init__()
        self.circuits = circuits
        # x -> x * scale + offset, the MinMaxScaler's map; set from the training data before training
        self.register_buffer("scale", torch.ones(circuits.n_features, dtype=torch.float64))
        self.register_buffer("offset", torch.zeros(circuits.n_features, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = x.to(torch.float64) * self.scale + self.offset
        f = self.circuits(angles).mean(dim=1)
        return torch.stack([torch.zeros_like(f), _LOGIT_SCALE * f], dim=1)


class SeparableVariationalClassifier(TorchClassifier):
    """The qml-benchmarks study's separable variational classifier (see the module docstring); two classes.

    Args:
        encoding_layers: ``L``, the layers of ``Rot`` + ``RY(x_i)`` before the last ``Rot``.
        backend: a ``qml.backend_choices()`` name: ``auto`` (default: the torch engine for exact runs, Aer
            for shots or a circuit the engine does not run), ``torch``, ``aer``, ``default``, ``lightning``, ...
        shots: ``None`` for exact expectation values.
        max_epochs, lr, batch_size, max_steps, convergence: the training, as for
            :class:`~qhybrid.hybrid.models.VQCClassifier` (``max_epochs`` only with ``convergence=None``).
        random_state: seed for the weights, the batch order and the simulator.

    After ``fit``, besides the torch models' attributes: ``scaler_`` (the ``MinMaxScaler``) and ``n_qubits_``
    (one per feature; each is simulated alone).
    """

    def __init__(
        self,
        encoding_layers: int = 1,
        backend: str = "auto",
        shots: int | None = None,
        max_epochs: int = 30,
        lr: float = 0.001,
        batch_size: int = 32,
        max_steps: int | None = 10_000,
        convergence: str | None = "qml-benchmarks",
        random_state=None,
    ) -> None:
        self.encoding_layers = encoding_layers
        self.backend = backend
        self.shots = shots
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.convergence = convergence
        self.random_state = random_state

    def check_params(self) -> None:
        super().check_params()
        check_int("encoding_layers", self.encoding_layers, 1)
        check_int("shots", self.shots, 1, allow_none=True)
        if not isinstance(self.backend, str):
            raise ArgumentTypeError(f"backend must be a backend name (str), got {describe(self.backend)}")
        from qhybrid.qml.backends import backend_info

        backend_info(self.backend)  # an unknown name fails here, before any data is looked at

    def _width(self, n_features: int) -> int:
        """The widest circuit simulated: one qubit, whatever ``n_features`` (each feature's runs alone)."""
        return 1

    def _fit_inputs(self, X: np.ndarray) -> None:
        # fitted in float64 on the float32 inputs, so that the angles are exact to double precision
        self.scaler_ = MinMaxScaler(feature_range=(-math.pi / 2, math.pi / 2)).fit(X.astype(np.float64))
        self.module_.scale.copy_(torch.as_tensor(self.scaler_.scale_))
        self.module_.offset.copy_(torch.as_tensor(self.scaler_.min_))

    def _build(self, n_features: int, n_classes: int) -> nn.Module:
        if n_classes != 2:
            raise ValueError(
                f"Only binary classification is supported: SeparableVariationalClassifier is a two-class model "
                f"(one output f(x)); y has {n_classes} classes"
            )
        seed = int(torch.randint(2**31 - 1, ()))  # from the fit's seeded torch generator
        circuits = _OneQubitCircuits(
            n_features,
            int(self.encoding_layers),
            backend=self.backend,
            shots=None if self.shots is None else int(self.shots),
            seed=seed,
        )
        return _SeparableModel(circuits)

    def _quantum_layers(self) -> list[nn.Module]:
        return [self.module_.circuits]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y) -> SeparableVariationalClassifier:
        """Scale ``X``, then train the circuits as the other torch models train; returns ``self``."""
        super().fit(X, y)
        self.n_qubits_ = self.n_features_in_  # one qubit per feature, each simulated alone
        return self
