"""The results folder of an experiment: ``results.jsonl``, one JSON record per finished cell, appended so
that a crash cannot corrupt what is already there, and read back tolerating a last line cut short; and the
lock that keeps two runs from writing one folder.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> append_record(folder / RESULTS_FILE, {"key": "k", "status": "ok", "model": "m", "dataset": "d",
...                                       "platform": "cpu", "seed": 0})
>>> [r["key"] for r in read_results(folder)]
['k']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qhybrid._files import refuse_link

__all__ = [
    "CONFIG_FILE",
    "CORRUPT_FILE",
    "LOCK_FILE",
    "RECORD_FIELDS",
    "RESULTS_FILE",
    "OutputBusyError",
    "append_record",
    "folder_lock",
    "latest_records",
    "read_results",
    "repair_tail",
    "set_aside_broken_lines",
]

RESULTS_FILE = "results.jsonl"
CONFIG_FILE = "experiment.json"
LOCK_FILE = ".runner.lock"
#: Where ``qhybrid report --repair`` keeps the lines of a results file that are not records.
CORRUPT_FILE = "results.corrupt.jsonl"


class OutputBusyError(ValueError):
    """Another run holds the output folder: two runners appending to one results file would compute the
    same cells twice."""


#: Fields every record has (the report groups and names cells by them).
RECORD_FIELDS = ("key", "status", "model", "dataset", "platform", "seed")


def _check_record(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ValueError(
            f"{where}: not a qhybrid result record (a JSON {type(record).__name__}, not an object)"
        )
    missing = [f for f in RECORD_FIELDS if f not in record]
    if missing:
        raise ValueError(f"{where}: not a qhybrid result record (no {', '.join(map(repr, missing))})")
    return record


def _results_lines(path: Path) -> list[str] | None:
    """The lines of a results file (``None`` where there is none); a link in its place is refused."""
    from qhybrid.hybrid.validation import read_text

    refuse_link(path)  # a run appends to it next
    if not path.exists():
        return None
    return read_text(path, "results file").split("\n")


def _parse(lines: list[str], path: Path):
    """``(line, record, error)`` for each non-empty line: the record, or ``error`` (a ValueError naming the
    line) for a line that is not one. A last line cut short by a crash (no newline after it, not JSON) has
    neither: it is no record and no error, and the next run repairs it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                yield line, None, None
                continue
            yield line, None, ValueError(f"{path}:{number}: not a JSON record")
            continue
        try:
            yield line, _check_record(record, f"{path}:{number}"), None
        except ValueError as err:
            yield line, None, err


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """All records of a results file (a folder or the ``results.jsonl`` itself). A last line cut short by
    a crash is ignored; a broken line elsewhere, or a line that is JSON but not a record, raises
    ``ValueError`` naming it."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    lines = _results_lines(path)
    records = []
    for _, record, error in _parse(lines or [], path):
        if error is not None:
            raise ValueError(f"{error}{_REPAIR_HINT.format(path.parent)}") from None
        if record is not None:
            records.append(record)
    return records


_REPAIR_HINT = (
    "; `qhybrid report --repair {}` sets such lines aside in " + CORRUPT_FILE + " and keeps the rest"
)


def set_aside_broken_lines(folder: Path) -> int:
    """Move every line of ``folder``'s results file that :func:`read_results` would refuse to
    :data:`CORRUPT_FILE` beside it, appended, so nothing is lost; the results file is rewritten atomically
    with the other lines (a cut-off last line stays, for the next run to repair). Returns how many lines
    were set aside."""
    from qhybrid._files import atomic_write_text

    path = Path(folder) / RESULTS_FILE
    lines = _results_lines(path)
    if lines is None:
        return 0
    parsed = list(_parse(lines, path))
    bad = [line for line, _, error in parsed if error is not None]
    if bad:
        aside = Path(folder) / CORRUPT_FILE
        refuse_link(aside)
        with open(aside, "a", encoding="utf-8") as fh:  # first, so a crash loses nothing
            fh.write("\n".join(bad) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        kept = [line for line, _, error in parsed if error is None]  # a cut-off last line stays last
        atomic_write_text(path, "\n".join(kept) + ("\n" if kept and lines[-1] == "" else ""))
    return len(bad)


def repair_tail(path: Path) -> None:
    """Drop an unfinished last line (a write killed halfway) so the next record starts on a fresh line."""
    refuse_link(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return
            pos = start
        fh.truncate(0)


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one record as one line, flushed and fsync'ed before returning: a crash after this call cannot
    lose it, and a crash during it leaves at most a cut-off last line (ignored on reading, repaired on
    resume)."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    refuse_link(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        written = 0
        while written < len(line):
            written += os.write(fd, line[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


class folder_lock:
    """An exclusive, non-blocking ``flock`` on ``<folder>/.runner.lock``, released when the process ends
    however it ends (the kernel drops it). Where ``fcntl`` does not exist (Windows) nothing is locked."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.fh = None

    def __enter__(self) -> folder_lock:
        try:
            import fcntl
        except ImportError:
            return self
        refuse_link(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        self.fh = os.fdopen(fd, "r+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "?"
            self.fh.close()
            self.fh = None
            raise OutputBusyError(
                f"another run (pid {holder}) is writing to {str(self.path.parent)!r}; wait for it to finish or "
                "choose another output folder"
            ) from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()  # closing releases the lock


def latest_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last record of each cell key (a retried cell supersedes its earlier failure)."""
    last: dict[str, dict[str, Any]] = {}
    for r in records:
        last[r["key"]] = r
    return list(last.values())
