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

The estimators live in :mod:`.estimators` (the torch base and ``mlp``), :mod:`.quantum_models`,
:mod:`.variational` and :mod:`.kernels`; this module is their registry: each entry names its factory, fixed
arguments, family and the platform it runs on (a simulator backend, an accelerator, or the CPU only).

Classical baselines: the torch ``mlp`` (:class:`MLPClassifier`), ``mlp-sk`` (the study's own baseline:
scikit-learn's ``MLPClassifier`` with hidden layers ``(100, 100)`` and ``max_iter=3000``), ``svc`` (RBF
kernel) and ``logreg``.

>>> from qhybrid.hybrid.models import make_model
>>> clf = make_model("dressed", backend="default", n_qubits=2, max_epochs=2, random_state=0)
>>> clf.fit([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], [0, 1, 0, 1]).predict([[0.0, 1.0]]).shape
(1,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qhybrid.hybrid.estimators import MLPClassifier, TorchClassifier
from qhybrid.hybrid.kernels import (
    IQPKernelClassifier,
    ProjectedKernelClassifier,
    SeparableKernelClassifier,
)
from qhybrid.hybrid.quantum_models import (
    DRCClassifier,
    DressedQuantumClassifier,
    HybridMLPClassifier,
    IQPClassifier,
    VQCClassifier,
)

__all__ = [
    "DRCClassifier",
    "DressedQuantumClassifier",
    "HybridMLPClassifier",
    "IQPClassifier",
    "MLPClassifier",
    "ModelEntry",
    "TorchClassifier",
    "VQCClassifier",
    "fitted_stats",
    "make_model",
    "model_family",
    "model_names",
    "model_platform",
    "platform_kwargs",
]


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


def _dqc_study(**params):
    from qhybrid.hybrid.study_models import DQCStudyClassifier

    return DQCStudyClassifier(**params)


def _drc_study(**params):
    from qhybrid.hybrid.study_models import DRCStudyClassifier

    return DRCStudyClassifier(**params)


def _logreg(**params):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{"max_iter": 1000, **params})


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: how to build it, and where it runs.

    ``platform`` is ``"backend"`` (a quantum simulator, ``backend=``), ``"accelerator"`` (a torch device,
    ``accelerator=``) or ``"cpu"`` (scikit-learn models: neither).
    """

    factory: Any
    fixed: dict
    family: str  # "classical", "quantum" or "hybrid"
    platform: str


def _entry(factory, fixed: dict, family: str, platform: str | None = None) -> ModelEntry:
    """An entry; quantum and hybrid models run on a backend, classical ones on the CPU unless told."""
    return ModelEntry(factory, fixed, family, platform or ("cpu" if family == "classical" else "backend"))


_REGISTRY: dict[str, ModelEntry] = {
    "mlp": _entry(MLPClassifier, {}, "classical", platform="accelerator"),
    "svc": _entry(_svc, {}, "classical"),
    "logreg": _entry(_logreg, {}, "classical"),
    "mlp-sk": _entry(_mlp_sk, {}, "classical"),
    "vqc": _entry(VQCClassifier, {}, "quantum"),
    "vqc-sep": _entry(VQCClassifier, {"entangling": False}, "quantum"),
    "drc": _entry(DRCClassifier, {}, "quantum"),
    "drc-sep": _entry(DRCClassifier, {"entangling": False}, "quantum"),
    "iqp": _entry(IQPClassifier, {}, "quantum"),
    "iqp-sep": _entry(IQPClassifier, {"entangling": False}, "quantum"),
    "dressed": _entry(DressedQuantumClassifier, {}, "hybrid"),
    "dressed-sep": _entry(DressedQuantumClassifier, {"entangling": False}, "hybrid"),
    "hybrid-mlp": _entry(HybridMLPClassifier, {}, "hybrid"),
    "hybrid-mlp-sep": _entry(HybridMLPClassifier, {"entangling": False}, "hybrid"),
    # the study's separable variational classifier (hybrid/variational.py): one-qubit circuits per feature
    "sepv": _entry(_sepv, {}, "quantum"),
    # the study's own dressed circuit and re-uploading classifier (hybrid/study_models.py)
    "dqc-study": _entry(_dqc_study, {}, "hybrid"),
    "drc-study": _entry(_drc_study, {}, "quantum"),
    # quantum kernels (hybrid/kernels.py): an SVM on a Gram matrix of circuits
    "iqp-kernel": _entry(IQPKernelClassifier, {}, "quantum"),
    "pqk": _entry(ProjectedKernelClassifier, {}, "quantum"),
    "sep-kernel": _entry(SeparableKernelClassifier, {}, "quantum"),
}


def model_names() -> list[str]:
    """Names :func:`make_model` accepts."""
    return list(_REGISTRY)


def _check_model_name(name: str) -> None:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(_REGISTRY)}")


def model_family(name: str) -> str:
    """``classical``, ``quantum`` or ``hybrid``."""
    _check_model_name(name)
    return _REGISTRY[name].family


def model_platform(name: str) -> str:
    """What a model runs on: ``"backend"`` (a simulator), ``"accelerator"`` (a torch device) or ``"cpu"``."""
    _check_model_name(name)
    return _REGISTRY[name].platform


def platform_kwargs(name: str, platform: str) -> dict[str, str]:
    """The keyword that puts model ``name`` on ``platform``: ``{"backend": ...}``, ``{"accelerator": ...}``,
    or nothing for a CPU-only model."""
    kind = model_platform(name)
    return {} if kind == "cpu" else {kind: platform}


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
    entry = _REGISTRY[name]
    kwargs = {**entry.fixed, **params, "random_state": random_state}
    if backend is not None:
        if entry.platform != "backend":
            raise ValueError(
                f"model {name!r} is classical and takes no backend (got {backend!r}); use accelerator"
            )
        kwargs["backend"] = backend
    if accelerator is not None:
        if entry.platform != "accelerator":
            takers = [n for n, e in _REGISTRY.items() if e.platform == "accelerator"]
            raise ValueError(
                f"model {name!r} takes no accelerator (got {accelerator!r}); only {', '.join(map(repr, takers))} do"
            )
        kwargs["accelerator"] = accelerator
    factory = entry.factory
    try:
        return factory(**kwargs)
    except TypeError as err:
        probe = factory()
        allowed = ", ".join(sorted(probe.get_params(deep=False)))
        raise ValueError(f"bad parameter for model {name!r} ({err}); allowed: {allowed}") from None


def _layers_of(estimator) -> list:
    from qhybrid.qml import QuantumLayer

    module = getattr(estimator, "module_", None)
    return [m for m in module.modules() if isinstance(m, QuantumLayer)] if module is not None else []


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
        engines = sorted({layer.engine_backend for layer in _layers_of(est)})
        if engines:  # what ran the circuits (``auto`` resolves per circuit)
            stats["engine"] = ",".join(engines)
        return stats
    n_params = None
    if hasattr(est, "support_vectors_"):  # kernel SVM: the support vectors and their dual weights
        n_params = int(est.support_vectors_.size + est.dual_coef_.size + est.intercept_.size)
    elif hasattr(est, "coefs_"):  # scikit-learn's MLP: weight matrices and biases per layer
        n_params = int(sum(np.size(w) for w in est.coefs_) + sum(np.size(b) for b in est.intercepts_))
    elif hasattr(est, "coef_"):
        n_params = int(np.size(est.coef_) + np.size(getattr(est, "intercept_", 0)))
    return {"n_params": n_params, "circuit_executions": 0, "n_qubits": 0}
