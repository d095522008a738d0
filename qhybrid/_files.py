"""Result files written so that a crash cannot leave a half-written one: a temporary file beside the
target, flushed to disk, then renamed over it (a rename within one folder is atomic on POSIX and Windows).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    # Reading the umask means setting it: done once, at import (before a program starts threads), so no
    # other thread creates a file in the instant it is 0.
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask: result files get the mode ``open()`` would give them (0644 under umask 022).
_UMASK = _read_umask()


def refuse_link(path: str | Path) -> None:
    """Refuse a symbolic link where qhybrid writes one of its own files in a results folder: following it
    would delete, truncate or overwrite a file outside the folder (a link planted in a shared folder, or one
    unpacked from an archive). One line, naming the link and its target."""
    if os.path.islink(path):
        raise ValueError(
            f"{str(path)!r} is a symbolic link (to {os.readlink(path)!r}); qhybrid writes only its own files in a "
            "results folder and follows no link there: remove the link"
        )


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path``: readers see the old file or the whole new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_UMASK)  # mkstemp's 0600 -> what open() would have made
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_csv(path: str | Path, fields: list[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write ``rows`` as CSV with header ``fields`` (extra keys ignored), atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
