"""How the torch estimators of :mod:`.models` and :mod:`.variational` train: minibatch Adam on the
cross-entropy with :class:`qhybrid.classical.Trainer`, for a fixed budget or until the qml-benchmarks
study's convergence criterion holds.

``convergence`` (a constructor argument of every torch estimator):

* ``None`` (``"none"`` in a TOML file, which has no null): ``max_epochs`` epochs, fewer if ``max_steps``
  optimiser steps come first. The same fixed budget for every model is what makes the runner's timings
  comparable.
* ``"qml-benchmarks"``: until :class:`~qhybrid.classical.training.ConvergenceStop` (window 200, the study's
  ``convergence_interval``) stops training or ``max_steps`` steps have run (required; the study used 10 000,
  100 000 for its dressed quantum circuit), whatever ``max_epochs`` says. A fit that reaches ``max_steps``
  first warns with scikit-learn's ``ConvergenceWarning`` (the study raised it as an error).

Batches are the Trainer's: each epoch a fresh shuffle cut into batches of ``batch_size`` (the last one
shorter where the training set is not a multiple), where the study draws every batch of 32 afresh with
replacement. Steps are counted across epochs.

>>> check_training("qml-benchmarks", 10_000)
>>> check_training("qml-benchmarks", None)
Traceback (most recent call last):
    ...
ValueError: convergence='qml-benchmarks' needs max_steps, the most optimiser steps to train (the study used 10000; 100000 for the dressed quantum circuit), got max_steps=None
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from qhybrid.classical.validation import MAX_STEPS, check_int

__all__ = ["CONVERGENCE", "Fitted", "check_training", "converges", "fit_module"]

#: ``convergence`` values: ``None`` (or ``"none"``, its spelling in a TOML file) and the study's criterion
CONVERGENCE = (None, "none", "qml-benchmarks")
WINDOW = 200  # the study's convergence_interval


class Fitted(NamedTuple):
    """What a fit did: the mean training loss per epoch, the optimiser steps run, and whether the
    convergence criterion stopped training."""

    loss_curve: list[float]
    n_steps: int
    converged: bool


def converges(convergence: str | None) -> bool:
    """Whether ``convergence`` trains to the study's criterion."""
    return convergence == "qml-benchmarks"


def check_training(convergence: Any, max_steps: Any) -> None:
    """``convergence`` one of :data:`CONVERGENCE`; ``max_steps`` ``None`` or an int >= 1, required with a
    convergence criterion (its cap)."""
    if not (convergence is None or (isinstance(convergence, str) and convergence in CONVERGENCE)):
        raise ValueError(
            f"convergence must be None, 'none' (train max_epochs epochs) or 'qml-benchmarks' (train until the "
            f"study's criterion holds, at most max_steps steps), got {convergence!r}"
        )
    check_int("max_steps", max_steps, 1, MAX_STEPS, allow_none=True)
    if converges(convergence) and max_steps is None:
        raise ValueError(
            "convergence='qml-benchmarks' needs max_steps, the most optimiser steps to train (the study "
            "used 10000; 100000 for the dressed quantum circuit), got max_steps=None"
        )


def fit_module(
    module: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: Any,
    lr: float,
    batch_size: int,
    seed: int,
    device: Any,
    max_epochs: int,
    max_steps: int | None,
    convergence: str | None,
    name: str,
) -> Fitted:
    """Train ``module`` on ``(X, y)`` (``optimizer``: ``"adam"`` or a ``params -> Optimizer`` factory) as
    ``convergence`` says (module docstring); ``name`` is the estimator's, for the warning."""
    from qhybrid.classical.training import ConvergenceStop, Trainer
    from qhybrid.hybrid.cell_progress import step_reporter

    stop = ConvergenceStop(window=WINDOW) if converges(convergence) else None
    if stop is not None:  # enough epochs that only max_steps or the criterion end training
        max_epochs = math.ceil(int(max_steps) / math.ceil(len(X) / int(batch_size)))
    # the step count for the runner's bar, inside a cell it runs (cell_progress)
    reporter = step_reporter()
    trainer = Trainer(
        max_epochs=int(max_epochs),
        max_steps=None if max_steps is None else int(max_steps),
        accelerator=device,
        optimizer=optimizer,
        lr=float(lr),
        batch_size=int(batch_size),
        seed=seed,
        callbacks=[c for c in (stop, reporter) if c is not None],
        enable_progress_bar=False,  # estimators fit quietly, in a terminal too (the default shows a bar there)
    )
    trainer.fit(module, (X, y))
    fitted = Fitted(
        [float(row["train_loss"]) for row in trainer.history],
        trainer.global_step,
        bool(stop and stop.converged),
    )
    if stop is not None and not fitted.converged:
        warnings.warn(
            f"{name} did not converge within max_steps={max_steps} optimiser steps "
            f"(convergence={convergence!r}); raise max_steps or the learning rate",
            ConvergenceWarning,
            stacklevel=3,
        )
    return fitted
