"""qhybrid's classical side: the PyTorch training stack.

Public names load lazily on first use, so ``import classical`` stays cheap (no torch, no TPU runtime
probing) until something is actually needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qhybrid._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # accelerators
    "Accelerator": "accelerators",
    "available_accelerators": "accelerators",
    "describe": "accelerators",
    "resolve_accelerator": "accelerators",
    "set_threads": "accelerators",
    # compression
    "Int8Linear": "compression",
    "compression_report": "compression",
    "format_table": "compression",
    "measure_latency": "compression",
    "model_size_bytes": "compression",
    "prune_linear": "compression",
    "quantize_int8": "compression",
    "torchao_available": "compression",
    # data sets (classical/data.py)
    "DataSplit": "data",
    "dataset_names": "data",
    "load_dataset": "data",
    "make_loader": "data",
    "make_split": "data",
    "qmlb_names": "data",
    # the qml-benchmarks study's generators, bit for bit (classical/qmlb.py; generate(stem) lives there)
    "hidden_manifold": "qmlb",
    "linearly_separable": "qmlb",
    "two_curves": "qmlb",
    "two_curves_diff": "qmlb",
    # distributed
    "Pipeline": "distributed",
    "cleanup": "distributed",
    "full_state_dict": "distributed",
    "launch": "distributed",
    "shard_model": "distributed",
    "split_sequential": "distributed",
    # models
    "GPT": "models",
    "GPTConfig": "models",
    "MLP": "models",
    "ResNet": "models",
    "count_parameters": "models",
    # training (classical/training/)
    "NonFiniteLossError": "training",
    "Trainer": "training",
    "seed_everything": "training",
    "Callback": "training",
    "CSVLogger": "training",
    "ConvergenceStop": "training",
    "EarlyStopping": "training",
    "LRMonitor": "training",
    "Logger": "training",
    "ModelCheckpoint": "training",
    "ProgressBar": "training",
    "TensorBoardLogger": "training",
    "Timer": "training",
    # text corpus for language models
    "CharLMDataset": "text",
    "CharTokenizer": "text",
    "char_lm_datasets": "text",
    "load_corpus": "text",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # static tools see the real names
    from qhybrid.classical.accelerators import (  # noqa: F401
        Accelerator,
        available_accelerators,
        describe,
        resolve_accelerator,
        set_threads,
    )
    from qhybrid.classical.compression import (  # noqa: F401
        Int8Linear,
        compression_report,
        format_table,
        measure_latency,
        model_size_bytes,
        prune_linear,
        quantize_int8,
        torchao_available,
    )
    from qhybrid.classical.data import (  # noqa: F401
        DataSplit,
        dataset_names,
        load_dataset,
        make_loader,
        make_split,
        qmlb_names,
    )
    from qhybrid.classical.distributed import (  # noqa: F401
        Pipeline,
        cleanup,
        full_state_dict,
        launch,
        shard_model,
        split_sequential,
    )
    from qhybrid.classical.models import GPT, MLP, GPTConfig, ResNet, count_parameters  # noqa: F401
    from qhybrid.classical.qmlb import hidden_manifold, linearly_separable, two_curves, two_curves_diff  # noqa: F401
    from qhybrid.classical.text import CharLMDataset, CharTokenizer, char_lm_datasets, load_corpus  # noqa: F401
    from qhybrid.classical.training import (  # noqa: F401
        Callback,
        ConvergenceStop,
        CSVLogger,
        EarlyStopping,
        Logger,
        LRMonitor,
        ModelCheckpoint,
        NonFiniteLossError,
        ProgressBar,
        TensorBoardLogger,
        Timer,
        Trainer,
        seed_everything,
    )
