"""How far the running cells' fits have got, for the runner's progress bar.

A cell can train for half an hour (the study's variational models run to its convergence criterion, up to
100 000 steps) while the bar counts whole cells. So a cell's fit writes its optimiser step, at most every
:data:`INTERVAL_S` seconds, to a small JSON file in ``<results folder>/.progress/``, and the runner's
process reads that folder every :data:`POLL_S` seconds and shows the running fits in the bar's postfix::

    qmlb-study-dressed-hm:  40%|████      | 2/5 [18:02<27:03, ...] dressed s2: step 2100/10000 | dressed s3: ...

Files serve cells in this process, in a process pool, and on Dask workers that share the folder alike;
where they do not share it, the bar shows cells done only. A file goes when its cell ends, and the runner
clears the folder when it starts (a killed cell leaves its file behind).

>>> with reporting(None, "m|d|p|0|f"):
...     step_reporter() is None   # no folder: nothing is written
True
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qhybrid._files import atomic_write_text, refuse_link
from qhybrid.classical.training import Callback

__all__ = [
    "INTERVAL_S",
    "POLL_S",
    "ProgressWatcher",
    "StepReporter",
    "clear",
    "progress_folder",
    "reporting",
    "running_fits",
    "step_reporter",
]

PROGRESS_DIR = ".progress"
INTERVAL_S = 5.0  # a fit writes its step at most this often
POLL_S = 5.0  # the runner reads the folder this often

#: (file, cell key) of the cell this process (or thread) is running, or None outside a reporting cell
_current: contextvars.ContextVar[tuple[Path, str] | None] = contextvars.ContextVar(
    "qhybrid_cell", default=None
)


def progress_folder(out_dir: str | Path) -> Path:
    return Path(out_dir) / PROGRESS_DIR


def clear(out_dir: str | Path) -> None:
    """Remove what earlier (killed) runs left in ``out_dir``'s progress folder (a link in its place is
    refused: its entries are another folder's files)."""
    refuse_link(progress_folder(out_dir))
    for path in progress_folder(out_dir).glob("*"):
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def reporting(folder: str | Path | None, key: str) -> Iterator[None]:
    """Within the block, fits report their steps for cell ``key`` into ``folder`` (``None``: they do not);
    the cell's file is removed at the end."""
    if folder is None:  # also inside another cell's block: nothing of this block reports
        token = _current.set(None)
        try:
            yield
        finally:
            _current.reset(token)
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    token = _current.set((path, key))
    try:
        yield
    finally:
        _current.reset(token)
        with contextlib.suppress(OSError):
            path.unlink()


class StepReporter(Callback):
    """A Trainer callback that writes ``{"key", "step", "max_steps"}`` to its cell's file, at most every
    ``interval_s`` seconds (default :data:`INTERVAL_S`), and at the first step; ``max_steps`` is the
    Trainer's ``estimated_stepping_batches``."""

    def __init__(self, path: Path, key: str, interval_s: float | None = None) -> None:
        self.path, self.key = path, key
        self.interval_s = INTERVAL_S if interval_s is None else interval_s
        self._last = -float("inf")

    def on_train_batch_end(self, trainer, model, loss, batch_idx: int) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        self._last = now
        total = int(trainer.estimated_stepping_batches)
        _write(self.path, {"key": self.key, "step": int(trainer.global_step), "max_steps": total})


def step_reporter() -> StepReporter | None:
    """A :class:`StepReporter` for the cell being run here, or ``None`` outside :func:`reporting`."""
    current = _current.get()
    return None if current is None else StepReporter(*current)


def _write(path: Path, payload: dict[str, Any]) -> None:
    """Replace ``path`` whole (a reader never sees half a file); a failed write only loses one update."""
    with contextlib.suppress(OSError):
        atomic_write_text(path, json.dumps(payload))


def running_fits(out_dir: str | Path) -> list[str]:
    """One line per fit reporting in ``out_dir``, e.g. ``"dressed s3: step 2100/10000"``, sorted."""
    lines = []
    for path in progress_folder(out_dir).glob("*.json"):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            model, _dataset, _platform, seed, _ = str(entry["key"]).split("|")
            cap = entry.get("max_steps")
            lines.append(f"{model} s{seed}: step {int(entry['step'])}" + (f"/{int(cap)}" if cap else ""))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being replaced or removed right now: the next poll reads it
    return sorted(lines)


class ProgressWatcher:
    """A daemon thread that every ``poll_s`` seconds passes :func:`running_fits` of ``out_dir``, joined,
    to ``show`` (when there are any). Use as a context manager; it stops at the block's end."""

    def __init__(self, out_dir: str | Path, show: Callable[[str], None], poll_s: float = POLL_S) -> None:
        self.out_dir, self.show, self.poll_s = Path(out_dir), show, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qhybrid-progress", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            lines = running_fits(self.out_dir)
            if lines:
                self.show(" | ".join(lines))

    def __enter__(self) -> ProgressWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
