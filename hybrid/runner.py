"""The comparison runner: every cell of ``models x data sets x platforms x seeds`` trained and timed alike.

Each cell is independent: :func:`run_cell` takes a :class:`Cell` and the experiment and returns one flat,
JSON-serialisable record (accuracies, fit seconds, inference latency and throughput, parameter count,
circuit executions, qubits, the exact configuration and library versions). :class:`Runner` walks the grid,
appends each finished record at once to ``results.jsonl`` in the output folder and skips the cells a previous
run already finished, so an interrupted run resumes where it stopped. Cells can go to any executor whose
``submit`` returns futures that can be waited on (:mod:`hybrid.executors`): a process pool, a
``dask.distributed.Client``, an MPI pool, without changing the cell code; records come back to this
process, which appends them (:mod:`hybrid.results_file`). A cell's hyper-parameter search
runs in :mod:`hybrid.search`, as the experiment's ``[search]`` and protocol (:mod:`hybrid.protocols`) say.

>>> from qhybrid.hybrid.config import parse_config
>>> cfg = parse_config({"models": ["logreg"], "datasets": ["iris"], "seeds": 1})
>>> [c.key for c in grid(cfg)]  # doctest: +ELLIPSIS
['logreg|iris|cpu|0|...']
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qhybrid._files import atomic_write_text
from qhybrid.hybrid.config import ExperimentConfig
from qhybrid.hybrid.results_file import (  # noqa: F401 - read_results, OutputBusyError: this module's API too
    CONFIG_FILE,
    RESULTS_FILE,
    OutputBusyError,
    append_record,
    folder_lock,
    read_results,
    repair_tail,
)

__all__ = ["Cell", "OutputBusyError", "Runner", "grid", "library_versions", "read_results", "run_cell"]

_LIBRARIES = ("qhybrid", "numpy", "scipy", "torch", "scikit-learn", "pennylane", "qiskit", "qiskit-aer")


@dataclass(frozen=True)
class Cell:
    """One unit of work: a model (label) on a data set, on a platform, with a seed."""

    model: str
    dataset: str
    platform: str
    seed: int
    fingerprint: str

    @property
    def key(self) -> str:
        """The identity of the cell in the results file (the fingerprint changes with its settings)."""
        return f"{self.model}|{self.dataset}|{self.platform}|{self.seed}|{self.fingerprint}"


def grid(config: ExperimentConfig) -> list[Cell]:
    """All cells of an experiment, data set by data set so that partial results cover whole data sets."""
    cells = []
    for dataset in config.datasets:
        for model in config.models:
            for plat in config.platforms(model):
                for seed in config.seeds:
                    cells.append(Cell(model, dataset, plat, seed, config.fingerprint(model)))
    return cells


def library_versions(optional: bool = False) -> dict[str, str | None]:
    """Versions of Python and the libraries that shape a result (each record holds them); with
    ``optional``, also the extras' distributions (``None`` where one is not installed), as ``qhybrid info``
    lists them."""
    from importlib.metadata import PackageNotFoundError, version

    from qhybrid._extras import EXTRAS

    out: dict[str, str | None] = {"python": platform.python_version()}
    libraries = list(_LIBRARIES)
    if optional:
        libraries += [dist for dist, _ in EXTRAS.values() if dist not in libraries]
    for lib in libraries:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = None
    return out


def _time_inference(
    estimator, X: np.ndarray, min_seconds: float = 0.2, max_repeats: int = 20
) -> dict[str, float]:
    """Throughput on the whole test set and single-sample latency: the median over repeated ``predict``
    calls (at least 3, until ``min_seconds`` have passed), after one untimed warm-up call that pays one-off
    costs such as circuit compilation caches. The median ignores the occasional pause (garbage collection,
    another process) that would dominate a mean of a few short calls."""
    estimator.predict(X)
    calls: list[float] = []
    while len(calls) < 3 or (sum(calls) < min_seconds and len(calls) < max_repeats):
        t0 = time.perf_counter()
        estimator.predict(X)
        calls.append(time.perf_counter() - t0)
    batch_seconds = float(np.median(calls))
    one = X[:1]
    single = []
    for _ in range(5):
        t0 = time.perf_counter()
        estimator.predict(one)
        single.append(time.perf_counter() - t0)
    return {
        "inference_batch_seconds": batch_seconds,
        "inference_samples_per_s": len(X) / batch_seconds if batch_seconds > 0 else float("inf"),
        "inference_latency_ms": 1000.0 * float(np.median(single)),
    }


def _search(estimator, cell: Cell, config: ExperimentConfig, data, record: dict[str, Any]):
    """The cell's estimator with the best setting of its search (:mod:`hybrid.search`), the search's
    fields added to ``record``; the estimator unchanged where the cell has no grid (with the protocol's
    note on why, if any)."""
    from qhybrid.hybrid.protocols import grid_notes
    from qhybrid.hybrid.search import run_search

    notes = grid_notes(config.protocol, config.search, cell.model, config.model_specs[cell.model])
    if notes:
        record["protocol_notes"] = notes
    space = config.search.get("space", {}).get(cell.model) if config.search.get("method") != "none" else None
    if not space:
        return estimator
    record["search_space"] = _jsonable(space)
    key = (cell.model, cell.dataset, cell.platform, cell.fingerprint)
    found = run_search(
        estimator, space, config.search, cell.seed, data.X_train, data.y_train, key=key, dataset=cell.dataset
    )
    record.update(found)
    estimator = estimator.set_params(**found["best_params"])
    record["estimator_params"] = _jsonable(estimator.get_params(deep=False))
    return estimator


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


_WARMED_UP = False


def _warm_up() -> None:
    """Pay the one-off costs of a process (lazy imports, torch's first kernels) outside any timed cell, so
    that the first cell of a run is not slower than the others."""
    global _WARMED_UP
    if _WARMED_UP:
        return
    from qhybrid.hybrid.models import MLPClassifier, make_model

    X = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = [0, 1] * 4
    MLPClassifier(hidden=(4,), max_epochs=1, batch_size=4, random_state=0).fit(X, y).predict(X)
    for name in ("logreg", "svc"):
        make_model(name).fit(X, y).predict(X)
    _WARMED_UP = True


def run_cell(
    cell: Cell, config: ExperimentConfig, *, threads: int | None = 1, progress_dir: str | None = None
) -> dict[str, Any]:
    """Train and time one cell; returns its record. A failure inside the cell becomes a record with
    ``status="error"`` and the message, so one broken cell does not stop a grid.

    ``threads`` sets this process's torch threads (1 by default: cells in parallel processes must not
    oversubscribe the cores; ``None`` leaves torch's setting alone). With ``progress_dir`` the cell's fits
    write their steps there for the runner's bar (:mod:`hybrid.cell_progress`).
    """
    from qhybrid.hybrid.cell_progress import reporting

    if threads is not None:
        from qhybrid.classical.accelerators import set_threads

        set_threads(threads)
    _warm_up()  # before reporting: its fit is not the cell's
    with reporting(progress_dir, cell.key):
        return _run_cell(cell, config)


def _run_cell(cell: Cell, config: ExperimentConfig) -> dict[str, Any]:
    from qhybrid.classical.data import load_dataset
    from qhybrid.hybrid.models import fitted_stats, make_model, model_family, platform_kwargs
    from qhybrid.hybrid.protocols import data_options
    from qhybrid.hybrid.search import score_all

    registry_name, params = config.model_specs[cell.model]
    family = model_family(registry_name)
    data_settings = data_options(config.protocol, cell.dataset, config.data)
    searching = config.search.get("method", "none") != "none"
    record: dict[str, Any] = {
        "key": cell.key,
        **asdict(cell),
        "registry_model": registry_name,
        "family": family,
        "experiment": config.name,
        "params": _jsonable(params),
        "data_settings": _jsonable(data_settings),
        "protocol": config.protocol,
        "search": _jsonable({k: v for k, v in config.search.items() if k != "space"}),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "versions": library_versions(),
    }
    try:
        data = load_dataset(cell.dataset, **data_settings)
        record.update(
            n_train=len(data.y_train),
            n_test=len(data.y_test),
            n_features=data.n_features,
            n_classes=data.n_classes,
        )
        kwargs: dict[str, Any] = {**params, **platform_kwargs(registry_name, cell.platform)}
        estimator = make_model(registry_name, random_state=cell.seed, **kwargs)
        record["estimator_params"] = _jsonable(estimator.get_params(deep=False))
        estimator = _search(estimator, cell, config, data, record)
        t0 = time.perf_counter()
        estimator.fit(data.X_train, data.y_train)
        record["fit_seconds"] = time.perf_counter() - t0
        record["train_accuracy"] = float(np.mean(estimator.predict(data.X_train) == data.y_train))
        record["test_accuracy"] = float(np.mean(estimator.predict(data.X_test) == data.y_test))
        if searching:  # every scorer of the search, on the test split
            record["test_scores"] = score_all(estimator, data.X_test, data.y_test, config.search["scoring"])
        record.update(_time_inference(estimator, data.X_test))
        record.update(fitted_stats(estimator))
        record["status"] = "ok"
    except Exception as err:  # noqa: BLE001 - a cell's failure is data for the report, not a crash
        record["status"] = "error"
        record["error"] = f"{type(err).__name__}: {err}"
    record["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return _jsonable(record)


class Runner:
    """Runs an experiment into an output folder, resuming from what the folder already holds.

    Args:
        config: a validated :class:`ExperimentConfig`.
        out_dir: the results folder (created); ``results.jsonl`` and ``experiment.json`` go there.
        executor: ``None`` to run cells one after another in this process, or any object with
            ``submit(fn, *args, **kwargs)`` whose futures are ``concurrent.futures.Future`` (a
            ``ProcessPoolExecutor``, mpi4py's ``MPIPoolExecutor``), ``dask.distributed.Future`` (a Dask
            ``Client``), or have ``done()`` and ``result()``. Its workers must import ``qhybrid``; the
            records come back here and are appended by this process (see :mod:`hybrid.executors`).
        progress: show a progress bar of cells done / left.
        threads: torch threads per cell process (see :func:`run_cell`).
        validate: check the experiment at the start of :meth:`run`, before any cell
            (:func:`hybrid.validation.check_experiment`: every data set loaded with the ``[data]`` options,
            every estimator built on every data set and platform, widths against the memory guard) and
            that ``out_dir`` can hold results, so a value that would fail every cell stops the run with one
            ``ValueError`` naming it. ``qhybrid compare`` passes ``False``: it has run the same checks
            already, with the TOML file's lines in the messages.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        out_dir: str | Path,
        *,
        executor=None,
        progress: bool = True,
        threads: int | None = 1,
        validate: bool = True,
    ) -> None:
        from qhybrid.classical.validation import check_bool, check_int

        if not isinstance(config, ExperimentConfig):
            raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
        if not isinstance(out_dir, (str, os.PathLike)):
            raise TypeError(f"out_dir must be a path (str or os.PathLike), got {type(out_dir).__name__}")
        self.config = config
        self.out_dir = Path(out_dir)
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise TypeError(
                f"executor must have a submit(fn, *args, **kwargs) method (a concurrent.futures.Executor, a "
                f"dask.distributed.Client), got {type(executor).__name__}"
            )
        self.executor = executor
        self.progress = check_bool("progress", progress)
        self.threads = check_int("threads", threads, 1, allow_none=True)
        self.validate = check_bool("validate", validate)

    @property
    def results_path(self) -> Path:
        return self.out_dir / RESULTS_FILE

    def finished_keys(self) -> set[str]:
        """Keys of the cells already finished successfully in the output folder."""
        return {r["key"] for r in read_results(self.results_path) if r.get("status") == "ok"}

    def pending(self) -> list[Cell]:
        done = self.finished_keys()
        return [c for c in grid(self.config) if c.key not in done]

    def run(self) -> list[dict[str, Any]]:
        """Run every unfinished cell, appending each record as it finishes; returns the new records.
        Cells that failed before are tried again. Raises ``ValueError`` before any work if the experiment
        or the folder cannot work (see ``validate``), :class:`OutputBusyError` while another run writes to
        the same folder."""
        if self.validate:
            from qhybrid.hybrid.validation import check_experiment, check_output_dir

            # labels that are not registry names are variants: their messages name [variants.<label>]
            variants = {
                label: {"model": name, **params}
                for label, (name, params) in self.config.model_specs.items()
                if label != name
            }
            check_experiment(self.config, {"variants": variants}, source=f"experiment {self.config.name!r}")
            check_output_dir(self.out_dir, "out_dir")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.out_dir):
            return self._run_locked()

    def _run_locked(self) -> list[dict[str, Any]]:
        repair_tail(self.results_path)
        cells = grid(self.config)
        # the cell keys tell the report which records belong to this experiment's current settings
        described = {**self.config.to_dict(), "cell_keys": [c.key for c in cells]}
        atomic_write_text(self.out_dir / CONFIG_FILE, json.dumps(described, indent=2) + "\n")
        todo = self.pending()
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="cell", desc=self.config.name)
        try:
            with self._watching(bar):
                return self._collect(todo, bar)
        finally:
            if bar is not None:
                bar.close()

    def _watching(self, bar):
        """Running fits' steps in the bar's postfix while cells run (:mod:`hybrid.cell_progress`)."""
        import contextlib

        from qhybrid.hybrid import cell_progress

        cell_progress.clear(self.out_dir)
        if bar is None:
            return contextlib.nullcontext()
        return cell_progress.ProgressWatcher(self.out_dir, bar.set_postfix_str)

    def _collect(self, todo: list[Cell], bar) -> list[dict[str, Any]]:
        new = []
        for record in self._execute(todo):
            append_record(self.results_path, record)
            new.append(record)
            if bar is not None:
                bar.set_postfix_str(
                    f"{record['model']} on {record['dataset']}: {record['status']}", refresh=False
                )
                bar.update(1)
        return new

    def _execute(self, cells: list[Cell]) -> Iterator[dict[str, Any]]:
        from qhybrid.hybrid.cell_progress import progress_folder

        # fits report their steps only where a bar shows them
        where = str(progress_folder(self.out_dir)) if self.progress else None
        if self.executor is None:
            for cell in cells:
                yield run_cell(cell, self.config, threads=self.threads, progress_dir=where)
            return
        from concurrent.futures.process import BrokenProcessPool

        from qhybrid.hybrid.executors import results_as_completed

        try:
            yield from results_as_completed(
                self.executor, run_cell, cells, self.config, threads=self.threads, progress_dir=where
            )
        except BrokenProcessPool:
            # a worker was killed (by the kernel's OOM killer, or a user): the pool cannot go on, but every
            # finished record is in results.jsonl already
            raise ChildProcessError(
                "a worker process died while running cells (killed, or out of memory); every finished cell "
                f"is kept in {self.results_path}: rerun the same command to resume"
            ) from None
