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
