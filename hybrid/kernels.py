"""Quantum kernel classifiers of the qml-benchmarks study (Bowles, Ahmed & Schuld, arXiv:2403.07059):
a support vector machine on a Gram matrix computed from circuits (:mod:`qhybrid.qml.kernels`).

* :class:`IQPKernelClassifier` (``iqp-kernel``): ``k(x, x') = |<0|U(x')^dagger U(x)|0>|^2`` with ``U`` the
  IQP map repeated ``repeats`` times (Havlíček et al. 2019);
* :class:`ProjectedKernelClassifier` (``pqk``): ``k(x, x') = exp(-gamma sum_k sum_P (<P_k>_x -
  <P_k>_x')^2)`` over the one-qubit Pauli expectations after a Trotterised Heisenberg evolution (Huang et
  al. 2021), on ``n_features + 1`` qubits;
* :class:`SeparableKernelClassifier` (``sep-kernel``): the fidelity kernel of a map without entangling
  gates, a product of one-qubit kernels.

As in the study, features are scaled to ``[-pi/2, pi/2]`` by a ``MinMaxScaler`` fitted on the training data,
and ``SVC(kernel="precomputed")`` is fitted on the training Gram matrix. The study's SVC also fits Platt
probabilities (``probability=True``, deprecated in scikit-learn 1.9), which its predictions do not use; these
classifiers leave them out and have no ``predict_proba``. ``fit`` keeps the training states (or Pauli
expectations), so predicting runs circuits only for the new samples. After
``fit``, ``kernel_method_`` says how the Gram matrix was computed: ``"statevector"`` (one broadcast run of
the ``N`` training circuits, exact backends), ``"fidelity"`` (compute-uncompute circuits, with shots or
noise) or ``"expval"`` (the projected kernel's Pauli expectations, with shots or noise);
``kernel_seconds_`` is the time taken to embed the training set and compute its Gram matrix, and
``circuit_executions_``, ``n_qubits_`` and ``n_params_`` are what the runner records.

>>> from qhybrid.hybrid.kernels import IQPKernelClassifier
>>> X, y = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], [0, 1, 0, 1]
>>> clf = IQPKernelClassifier(repeats=1, C=10.0, random_state=0).fit(X, y)
>>> clf.kernel_method_, clf.predict([[0.0, 1.0], [1.0, 0.1]]).tolist()
('statevector', [0, 1])
"""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from qhybrid.classical.validation import (
    ArgumentTypeError,
    check_finite_array,
    check_float,
    check_int,
    check_random_state,
    describe,
    detached,
    seed_from,
)

__all__ = ["IQPKernelClassifier", "ProjectedKernelClassifier", "SeparableKernelClassifier"]


class _KernelClassifier(ClassifierMixin, BaseEstimator):
    """Shared fit / predict of the kernel classifiers; subclasses set ``_what``, ``_extra_wires`` and
    :meth:`_make_kernel`, and store only their arguments in ``__init__``."""

    _what = "quantum kernel"
    _extra_wires = 0  # qubits beyond one per feature
    _product = False  # a product kernel simulates one-qubit states only on exact backends

    def check_params(self) -> None:
        """Refuse a bad constructor argument, naming it, its value and what is allowed. Called first in
        ``fit`` (and by the runner's checks before any cell), never in ``__init__``."""
        from qhybrid.qml.kernels import kernel_method
        from qhybrid.qml.noise import as_aer_noise_model

        check_float("C", self.C, 0, low_open=True)
        check_int("n_qubits", self.n_qubits, 1, allow_none=True)
        check_int("shots", self.shots, 1, allow_none=True)
        if not isinstance(self.backend, str):
            raise ArgumentTypeError(f"backend must be a backend name (str), got {describe(self.backend)}")
        kernel_method(self.backend, self.shots, self.noise)  # an unknown backend fails here
        as_aer_noise_model(self.noise)
        check_random_state(self.random_state)

    def _width(self, n_features: int) -> int:
        """The circuit's qubits for ``n_features`` features: the study's width; ``n_qubits`` must match it."""
        width = n_features + self._extra_wires
        if self.n_qubits is not None and int(self.n_qubits) != width:
            per = "one qubit per feature" + (" and one more" if self._extra_wires else "")
            raise ValueError(
                f"n_qubits={self.n_qubits} does not fit {n_features} features: the {self._what} puts {per} "
                f"on its circuit, so n_qubits must be {width} (or None)"
            )
        return width

    def _make_kernel(self, n_features: int, seed: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X, y) -> _KernelClassifier:
        """Scale ``X``, embed it, compute the training Gram matrix and fit the SVM; returns ``self``."""
        from qhybrid.qml.kernels import check_kernel_width, kernel_method

        self.check_params()
        X, y = validate_data(self, detached(X), detached(y), dtype=np.float64, ensure_all_finite=False)
        check_finite_array("X", X)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, got 1 class ({classes[0]!r})"
            )
        n_features = X.shape[1]
        width = self._width(n_features)
        if not (self._product and kernel_method(self.backend, self.shots, self.noise) == "statevector"):
            check_kernel_width(self._what, width, self.backend, n_features)
        seed = seed_from(self.random_state)
        self.scaler_ = MinMaxScaler(feature_range=(-math.pi / 2, math.pi / 2)).fit(X)
        self.kernel_ = self._make_kernel(n_features, seed)  # makes the device: shots and noise checked
        self.kernel_.check_fits(len(X))
        start = time.perf_counter()
        self.train_embedding_ = self.kernel_.embed(self.scaler_.transform(X))
        gram = self._fit_gram(self.train_embedding_)
        self.kernel_seconds_ = time.perf_counter() - start
        self.svc_ = SVC(kernel="precomputed", C=float(self.C)).fit(gram, y)
        self.classes_ = self.svc_.classes_
        self.kernel_method_ = self.kernel_.method
        self.n_qubits_ = width
        self.circuit_executions_ = self.kernel_.circuit_executions
        # as qhybrid counts a kernel SVC: the support vectors it keeps, their dual weights, the intercepts
        self.n_params_ = int(
            self.svc_.support_.size * n_features + self.svc_.dual_coef_.size + self.svc_.intercept_.size
        )
        return self

    def _fit_gram(self, embedding) -> np.ndarray:
        return self.kernel_.gram(embedding)

    def _test_gram(self, X) -> np.ndarray:
        """``K(X, X_train)``: circuits for the new samples only."""
        check_is_fitted(self, "svc_")
        X = validate_data(self, detached(X), dtype=np.float64, ensure_all_finite=False, reset=False)
        check_finite_array("X", X)
        return self._cross_gram(self.scaler_.transform(X))

    def _cross_gram(self, X) -> np.ndarray:
        return self.kernel_.cross_gram(X, self.train_embedding_)

    def decision_function(self, X) -> np.ndarray:
        """The SVM's decision values (two classes: positive for ``classes_[1]``)."""
        gram = self._test_gram(X)
        return self.svc_.decision_function(gram)

    def predict(self, X) -> np.ndarray:
        """The SVM's class of each sample."""
        gram = self._test_gram(X)
        return self.svc_.predict(gram)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class IQPKernelClassifier(_KernelClassifier):
    """SVM on the IQP fidelity kernel ``|<0|U(x')^dagger U(x)|0>|^2`` (qml-benchmarks'
    ``IQPKernelClassifier``), one qubit per feature.

    Args:
        repeats: times the IQP layer (``H``, ``RZ(x_i)``, ``ZZ(x_i x_j)`` on every pair) is repeated.
        C: the SVM's regularisation (> 0; smaller is stronger).
        n_qubits: ``None`` (one per feature) or that same number.
        backend: a ``qml.backend_choices()`` name; ``auto`` (default: Aer's exact device, or ``aer.shots`` with
            shots), ``aer``, ``aer.mps``, ``default`` and ``lightning`` compute the Gram matrix from
            statevectors, ``aer.shots`` and ``aer.density`` by fidelity circuits.
        shots: samples per circuit (required by ``aer.shots``); ``None`` is exact.
        noise: a noise spec or ``NoiseModel`` for ``aer.density`` / ``aer.shots``.
        random_state: seeds the sampler (with shots).
    """

    _what = "IQP kernel"

    def __init__(
        self,
        repeats: int = 2,
        C: float = 1.0,
        n_qubits: int | None = None,
        backend: str = "auto",
        shots: int | None = None,
        noise=None,
        random_state=None,
    ) -> None:
        self.repeats = repeats
        self.C = C
        self.n_qubits = n_qubits
        self.backend = backend
        self.shots = shots
        self.noise = noise
        self.random_state = random_state

    def check_params(self) -> None:
        check_int("repeats", self.repeats, 1)
        super().check_params()

    def _make_kernel(self, n_features: int, seed: int):
        from qhybrid.qml.kernels import FidelityKernel, iqp_feature_map

        fmap = partial(iqp_feature_map, repeats=int(self.repeats))
        return FidelityKernel(fmap, n_features, self.backend, shots=self.shots, noise=self.noise, seed=seed)


class ProjectedKernelClassifier(_KernelClassifier):
    """SVM on the projected quantum kernel (qml-benchmarks' ``ProjectedQuantumKernel``, Hamiltonian
    embedding) on ``n_features + 1`` qubits: ``Rot`` by random fixed angles on every qubit, then
    ``trotter_steps`` steps of ``exp(-i t n_features / trotter_steps * x_j (XX + YY + ZZ)_{j,j+1} / 2)``;

        k(x, x') = exp(-gamma sum_k sum_{P in X,Y,Z} (<P_k>_x - <P_k>_x')^2),
        gamma = gamma_factor / (n_features * Var(<P_k>_x over the training samples, qubits and P)).

    The study recomputes the variance from whichever set is passed first (the test set when predicting);
    here ``gamma_`` is fixed in ``fit`` from the training set, so a test sample's kernel row does not
    depend on the other test samples.

    Args:
        gamma_factor: multiplies the default ``gamma`` (> 0).
        C: the SVM's regularisation (> 0).
        trotter_steps: Trotter steps of the evolution (>= 1).
        t: evolution time per feature (> 0); the total time is ``t * n_features``.
        n_qubits: ``None`` (``n_features + 1``) or that same number.
        backend, shots, noise: as for :class:`IQPKernelClassifier`; with shots or noise the Pauli
            expectations are measured (``kernel_method_ == "expval"``).
        random_state: seeds the fixed rotation angles and the sampler.
    """

    _what = "projected quantum kernel"
    _extra_wires = 1

    def __init__(
        self,
        gamma_factor: float = 1.0,
        C: float = 1.0,
        trotter_steps: int = 5,
        t: float = 1 / 3,
        n_qubits: int | None = None,
        backend: str = "auto",
        shots: int | None = None,
        noise=None,
        random_state=None,
    ) -> None:
        self.gamma_factor = gamma_factor
        self.C = C
        self.trotter_steps = trotter_steps
        self.t = t
        self.n_qubits = n_qubits
        self.backend = backend
        self.shots = shots
        self.noise = noise
        self.random_state = random_state

    def check_params(self) -> None:
        check_float("gamma_factor", self.gamma_factor, 0, low_open=True)
        check_int("trotter_steps", self.trotter_steps, 1)
        check_float("t", self.t, 0, low_open=True)
        super().check_params()

    def _make_kernel(self, n_features: int, seed: int):
        from qhybrid.qml.kernels import ProjectedKernel, hamiltonian_feature_map

        n_wires = n_features + 1
        self.rotations_ = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=(n_wires, 3))
        fmap = partial(
            hamiltonian_feature_map,
            rotations=self.rotations_,
            t=float(self.t),
            trotter_steps=int(self.trotter_steps),
        )
        return ProjectedKernel(fmap, n_wires, self.backend, shots=self.shots, noise=self.noise, seed=seed)

    def _fit_gram(self, embedding) -> np.ndarray:
        variance = float(np.var(embedding))
        # identical embeddings (variance 0) give k = 1 for any gamma; keep gamma finite
        self.gamma_ = float(self.gamma_factor) / (self.n_features_in_ * (variance if variance > 0 else 1.0))
        return self.kernel_.gram(embedding, gamma=self.gamma_)

    def _cross_gram(self, X) -> np.ndarray:
        return self.kernel_.cross_gram(X, self.train_embedding_, gamma=self.gamma_)


class SeparableKernelClassifier(_KernelClassifier):
    """SVM on the separable kernel (qml-benchmarks' ``SeparableKernelClassifier``): on each qubit,
    ``encoding_layers`` times ``RX(-pi/4)`` then ``RY(-x_k)``, and ``k(x, x') = prod_k |<phi(x'_k)|
    phi(x_k)>|^2``. On exact backends only one-qubit states are simulated (so any number of features fits);
    with shots or noise the ``n``-qubit fidelity circuits run.

    Args:
        encoding_layers: repetitions of the encoding layer (>= 1).
        C, n_qubits, backend, shots, noise, random_state: as for :class:`IQPKernelClassifier`.
    """

    _what = "separable kernel"
    _product = True

    def __init__(
        self,
        encoding_layers: int = 1,
        C: float = 1.0,
        n_qubits: int | None = None,
        backend: str = "auto",
        shots: int | None = None,
        noise=None,
        random_state=None,
    ) -> None:
        self.encoding_layers = encoding_layers
        self.C = C
        self.n_qubits = n_qubits
        self.backend = backend
        self.shots = shots
        self.noise = noise
        self.random_state = random_state

    def check_params(self) -> None:
        check_int("encoding_layers", self.encoding_layers, 1)
        super().check_params()

    def _make_kernel(self, n_features: int, seed: int):
        from qhybrid.qml.kernels import ProductKernel, separable_feature_map

        fmap = partial(separable_feature_map, layers=int(self.encoding_layers))
        return ProductKernel(fmap, n_features, self.backend, shots=self.shots, noise=self.noise, seed=seed)
