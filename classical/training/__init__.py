"""The training stack: :class:`Trainer` and the pieces it is made of, one module each.

* :mod:`.trainer`: the ``Trainer`` surface (fit / evaluate / predict / checkpoints) and its loop;
* :mod:`.options`: every option, checked at construction;
* :mod:`.precision`: the ``Precision`` object (autocast, input conversion, scaler and clipping);
* :mod:`.strategy`: the ``Strategy`` object (one process, DDP, FSDP2);
* :mod:`.loaders`, :mod:`.losses`, :mod:`.metrics`, :mod:`.optim`: data to batches, losses by name,
  the loss/accuracy accumulator shared by the training and evaluation loops, optimisers and schedules;
* :mod:`.checkpoint` and :mod:`.rng`: checkpoints that resume exactly, seeding, deterministic algorithms;
* :mod:`.devices`: Lightning's ``devices`` for one device per process;
* :mod:`.callbacks`, :mod:`.timer`, :mod:`.convergence` and :mod:`.loggers`: behaviour added through
  named hooks.
"""

from qhybrid.classical.training.callbacks import (
    Callback,
    EarlyStopping,
    LRMonitor,
    ModelCheckpoint,
    ProgressBar,
)
from qhybrid.classical.training.convergence import ConvergenceStop
from qhybrid.classical.training.loggers import CSVLogger, Logger, TensorBoardLogger
from qhybrid.classical.training.precision import Precision
from qhybrid.classical.training.rng import seed_everything
from qhybrid.classical.training.strategy import Strategy
from qhybrid.classical.training.timer import Timer
from qhybrid.classical.training.trainer import NonFiniteLossError, Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "ConvergenceStop",
    "EarlyStopping",
    "LRMonitor",
    "Logger",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "Precision",
    "ProgressBar",
    "Strategy",
    "TensorBoardLogger",
    "Timer",
    "Trainer",
    "seed_everything",
]
