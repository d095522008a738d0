"""A results folder with symbolic links planted in it (a shared folder, or one unpacked from an archive,
since tar keeps links): no file outside the folder is deleted, truncated or overwritten, and the run stops
with one line naming the link."""

import os

import pytest

from qhybrid.hybrid.cli import main

TOML = """\
name = "links"
models = ["svc"]
datasets = ["moons"]
seeds = 1

[data]
n_samples = 40
"""


def _victim(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "precious.txt"
    victim.write_text("keep me\n")
    return outside, victim


def _compare(capsys, tmp_path, out):
    config = tmp_path / "exp.toml"
    config.write_text(TOML)
    code = main(["compare", "--config", str(config), "--out", str(out), "--no-progress"])
    return code, capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("name", [".runner.lock", "results.jsonl", ".progress", "accuracy_vs_fit_time.png"])
def test_a_planted_link_is_refused_and_its_target_untouched(capsys, tmp_path, name):
    outside, victim = _victim(tmp_path)
    out = tmp_path / "out"
    if name == "accuracy_vs_fit_time.png":  # a finished run first: the plots are written by report too
        assert _compare(capsys, tmp_path, out)[0] == 0
        (out / name).unlink()
    out.mkdir(exist_ok=True)
    os.symlink(outside if name == ".progress" else victim, out / name)
    code, line = (
        (main(["report", str(out)]), capsys.readouterr().err.strip().splitlines()[-1])
        if name.endswith(".png")
        else _compare(capsys, tmp_path, out)
    )
    assert code == 2 and "is a symbolic link" in line and name in line, line
    assert victim.read_text() == "keep me\n" and sorted(p.name for p in outside.iterdir()) == ["precious.txt"]
