"""What the Trainer takes from a model written for PyTorch Lightning, and what it says it leaves.

A ``LightningModule`` keeps its optimiser in ``configure_optimizers`` and its loss in ``training_step``. This
Trainer trains ``model(x)`` against ``y`` with its own loss, so:

* ``configure_optimizers()`` is honoured: the optimiser it returns trains the model (alone, in a list or a
  tuple, or as ``{"optimizer": ...}``), in place of the Trainer's ``optimizer=``. A learning-rate scheduler
  returned with it is refused with one line: Lightning steps it per epoch unless told otherwise, this
  Trainer per optimiser step (pass ``scheduler=`` to the Trainer);
* ``training_step``, ``validation_step`` and ``test_step`` are not called, and a warning says so once per fit
  (the loss is ``loss=``, ``"auto"`` by default: cross-entropy for class labels, MSE for values).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

#: The step hooks of a LightningModule this Trainer does not call.
STEP_HOOKS = ("training_step", "validation_step", "test_step")


def model_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer | None:
    """The optimiser ``model.configure_optimizers()`` returns, or None where the model has no such hook.

    Raises:
        ValueError: the hook returned several optimisers, a scheduler, or something that is not an
            optimiser.
    """
    hook = getattr(model, "configure_optimizers", None)
    if not callable(hook):
        return None
    returned = hook()
    optimizer = _only_optimizer(returned)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"{type(model).__name__}.configure_optimizers() returned {_what(returned)}; the Trainer takes "
            "one torch.optim.Optimizer (alone, in a list, or as {'optimizer': ...})"
        )
    return optimizer


def _only_optimizer(returned: Any) -> Any:
    if isinstance(returned, dict):
        if "lr_scheduler" in returned:
            raise ValueError(_SCHEDULER)
        return returned.get("optimizer")
    if isinstance(returned, (list, tuple)):
        if len(returned) == 2 and isinstance(returned[0], (list, tuple)):  # ([optimizers], [schedulers])
            if returned[1]:
                raise ValueError(_SCHEDULER)
            returned = returned[0]
        if len(returned) != 1:
            raise ValueError(
                f"configure_optimizers() returned {len(returned)} optimisers; the Trainer trains with one"
            )
        return returned[0]
    return returned


_SCHEDULER = (
    "configure_optimizers() returned a learning-rate scheduler; the Trainer steps the schedulers it makes "
    "after every optimiser step: pass scheduler= (and scheduler_kwargs=) to the Trainer instead"
)


def _what(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def warn_uncalled_steps(model: torch.nn.Module) -> None:
    """One warning naming the Lightning step hooks ``model`` defines, which the Trainer does not call."""
    defined = [name for name in STEP_HOOKS if callable(getattr(model, name, None))]
    if defined:
        warnings.warn(
            f"{type(model).__name__} defines {', '.join(defined)}, which this Trainer does not call: it trains "
            "model(x) against y with loss= ('auto': cross-entropy for class labels, MSE otherwise)",
            UserWarning,
            stacklevel=3,
        )
