"""Result files are replaced whole: an interrupted write leaves the previous file and no temporary."""

import os

import pytest

from qhybrid._files import atomic_write_csv, atomic_write_text


def test_an_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    atomic_write_text(target, "old\n")

    def crash(*args):
        raise KeyboardInterrupt  # killed between writing the new file and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]


def test_csv_rows_are_written_with_their_header(tmp_path):
    target = tmp_path / "summary.csv"
    atomic_write_csv(target, ["a", "b"], [{"a": 1, "b": 2, "ignored": 3}, {"a": 4, "b": 5}])
    assert target.read_text().splitlines() == ["a,b", "1,2", "4,5"]


def test_result_files_get_the_mode_open_would_give(tmp_path):
    import os
    import stat

    from qhybrid._files import _UMASK, atomic_write_text

    atomic_write_text(tmp_path / "summary.md", "x")
    plain = tmp_path / "plain.md"
    plain.write_text("x")
    mode = stat.S_IMODE(os.stat(tmp_path / "summary.md").st_mode)
    assert mode == stat.S_IMODE(os.stat(plain).st_mode) == 0o666 & ~_UMASK
