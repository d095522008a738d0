"""hybrid.cli_help: the help of `qhybrid compare` and `qhybrid solve` lists the registries' names."""

import argparse

import pytest

from qhybrid.hybrid import compare_cmd, solve_cmd
from qhybrid.hybrid.cli_help import PLACEHOLDERS, RegistryHelpFormatter
from qhybrid.qml import backend_choices
from qhybrid.qml.solvers import INITS, OPTIMIZERS, VQE_ANSATZE

REGISTRY = {"backends": backend_choices(), "optimizers": OPTIMIZERS, "inits": INITS, "ansatze": VQE_ANSATZE}


def _help(add_arguments, *argv, capsys):
    parser = argparse.ArgumentParser(prog="qhybrid")
    add_arguments(parser)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([*argv, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


@pytest.mark.parametrize(
    "problem, option, names",
    [
        ("maxcut", "--backend", "backends"),
        ("qubo", "--optimizer", "optimizers"),
        ("maxcut", "--init", "inits"),
        ("vqe", "--ansatz", "ansatze"),
    ],
)
def test_solve_help_lists_the_registries(capsys, problem, option, names):
    text = _help(solve_cmd.add_arguments, problem, capsys=capsys)
    assert f"{option} " in text and f"one of {', '.join(REGISTRY[names])}" in text, text
    assert "%(" not in text


def test_compare_help_lists_the_backends_and_keeps_its_epilog(capsys):
    text = _help(compare_cmd.add_arguments, capsys=capsys)
    assert f"simulators for quantum/hybrid models ({', '.join(backend_choices())})" in text, text
    assert "exit status: 0 every cell" in text


def test_a_name_added_to_a_registry_shows_in_the_help(monkeypatch):
    monkeypatch.setitem(PLACEHOLDERS, "%(backends)s", lambda: ["aer", "my.new.backend"])
    parser = argparse.ArgumentParser(prog="demo", formatter_class=RegistryHelpFormatter)
    parser.add_argument("--backend", default="aer", help="one of %(backends)s (default %(default)s)")
    assert "one of aer, my.new.backend (default aer)" in " ".join(parser.format_help().split())
