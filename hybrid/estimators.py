"""The torch-based estimators' shared base and the classical torch MLP.

:class:`TorchClassifier` is a scikit-learn classifier around a ``torch.nn.Module`` that maps features to
class logits, trained with :class:`~qhybrid.classical.Trainer` (:mod:`.fitting`); subclasses build the
module. :class:`MLPClassifier` is the classical one; the quantum and hybrid ones are in
:mod:`.quantum_models`, :mod:`.variational`.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from qhybrid.classical.validation import (
    MAX_EPOCHS,
    ArgumentTypeError,
    check_float,
    check_int,
    check_random_state,
    describe,
    detached,
    seed_from,
)
from qhybrid.hybrid.fitting import check_training, fit_module

__all__ = ["MLPClassifier", "TorchClassifier"]


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

    def check_params(self) -> None:
        """Refuse a bad constructor argument with one error naming it, its value and what is allowed.

        Called first thing in ``fit`` (and by ``hybrid.validation.check_experiment`` before any cell of a
        run), never in ``__init__``: scikit-learn's ``clone``, ``get_params`` and ``set_params`` keep any
        value, as they do for its own estimators."""
        check_int("max_epochs", self.max_epochs, 1, MAX_EPOCHS)
        check_int("batch_size", self.batch_size, 1)
        check_float("lr", self.lr, 0, low_open=True)
        check_random_state(self.random_state)
        check_training(self.convergence, self.max_steps)

    def _device(self) -> torch.device:
        return torch.device("cpu")

    def fit(self, X, y) -> TorchClassifier:
        """Train from scratch on ``(X, y)`` with Adam on the cross-entropy; returns ``self``."""
        self.check_params()
        X, y = validate_data(self, detached(X), detached(y), dtype=np.float32)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, got 1 class ({self.classes_[0]!r})"
            )
        seed = seed_from(self.random_state)
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
            optimizer=adam_l2(float(self.lr), alpha / int(self.batch_size)) if alpha > 0 else "adam",
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
        X = validate_data(self, detached(X), dtype=np.float32, reset=False)
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


def _check_hidden(hidden) -> None:
    """Hidden layer widths: a list or tuple of ints >= 1 (``(64, 64)``, ``[8]``, ``()``)."""
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple)):
        raise ArgumentTypeError(
            f"hidden must be a list or tuple of integers >= 1 (layer widths), got {describe(hidden)}"
        )
    for i, width in enumerate(hidden):
        check_int(f"hidden[{i}]", width, 1)


def adam_l2(lr: float, decay: float):
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

    def check_params(self) -> None:
        super().check_params()
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
