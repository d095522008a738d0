"""qhybrid's hybrid models, comparison runner, reports and command line.

Public names load lazily on first use, so ``import hybrid`` (and the ``qhybrid`` command's start-up) stays
cheap until something is actually needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qhybrid._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # models (hybrid/models.py)
    "DRCClassifier": "models",
    "DressedQuantumClassifier": "models",
    "HybridMLPClassifier": "models",
    "IQPClassifier": "models",
    "MLPClassifier": "models",
    "VQCClassifier": "models",
    "fitted_stats": "models",
    "make_model": "models",
    "model_family": "models",
    "model_names": "models",
    # the study's separable variational classifier (hybrid/variational.py)
    "SeparableVariationalClassifier": "variational",
    # quantum kernel classifiers (hybrid/kernels.py)
    "IQPKernelClassifier": "kernels",
    "ProjectedKernelClassifier": "kernels",
    "SeparableKernelClassifier": "kernels",
    # experiments (hybrid/config.py)
    "ExperimentConfig": "config",
    "default_config": "config",
    "load_config": "config",
    "parse_config": "config",
    # runner (hybrid/runner.py)
    "Cell": "runner",
    "OutputBusyError": "runner",
    "Runner": "runner",
    "grid": "runner",
    "read_results": "runner",
    "run_cell": "runner",
    # report (hybrid/report.py)
    "format_table": "report",
    "render_report": "report",
    "summarize": "report",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # static tools see the real names
    from qhybrid.hybrid.config import ExperimentConfig, default_config, load_config, parse_config  # noqa: F401
    from qhybrid.hybrid.kernels import (  # noqa: F401
        IQPKernelClassifier,
        ProjectedKernelClassifier,
        SeparableKernelClassifier,
    )
    from qhybrid.hybrid.models import (  # noqa: F401
        DRCClassifier,
        DressedQuantumClassifier,
        HybridMLPClassifier,
        IQPClassifier,
        MLPClassifier,
        VQCClassifier,
        fitted_stats,
        make_model,
        model_family,
        model_names,
    )
    from qhybrid.hybrid.report import format_table, render_report, summarize  # noqa: F401
    from qhybrid.hybrid.runner import Cell, OutputBusyError, Runner, grid, read_results, run_cell  # noqa: F401
    from qhybrid.hybrid.variational import SeparableVariationalClassifier  # noqa: F401
