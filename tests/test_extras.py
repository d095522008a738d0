"""Optional dependencies are extras: without one, the feature that needs it names the extra; the rest works.

Each test hides one distribution by putting ``None`` into ``sys.modules`` (``import x`` then raises
ImportError, as it does when ``x`` is not installed).
"""

import argparse
import importlib.metadata
import sys

import networkx as nx
import pytest
import torch
from packaging.requirements import Requirement

from qhybrid._extras import EXTRAS, missing_message, require, stock_plugin_missing


def _hide(monkeypatch, *modules):
    for name in modules:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def test_optional_distributions_are_extras_of_the_installed_metadata():
    requirements = [Requirement(r) for r in importlib.metadata.requires("qhybrid")]
    for dist, extra in EXTRAS.values():
        rows = [r for r in requirements if r.name.lower() == dist]
        assert rows, f"{dist} is not listed at all"
        for r in rows:  # only ever behind its extra (dev pulls some of them through qhybrid[...])
            assert r.marker is not None and "extra" in str(r.marker), f"{dist} is a core dependency: {r}"
        assert any(r.marker.evaluate({"extra": extra}) for r in rows)
    core = [r.name.lower() for r in requirements if r.marker is None or "extra" not in str(r.marker)]
    assert "pennylane" in core and "qiskit-aer" in core
    # the dev extra pulls the extras the tests use
    dev = [r for r in requirements if r.marker is not None and r.marker.evaluate({"extra": "dev"})]
    assert any(r.name == "qhybrid" and {"solvers", "compression"} <= r.extras for r in dev)


def test_require_names_the_extra(monkeypatch):
    _hide(monkeypatch, "cvxpy")
    with pytest.raises(
        ImportError, match=r"the thing needs cvxpy, which is not installed: pip install 'qhybrid\[solvers\]'"
    ):
        require("cvxpy", "the thing")
    assert missing_message("pennylane_qiskit", "x") == (
        "x needs pennylane-qiskit, which is not installed: pip install 'qhybrid[bench]'"
    )


def test_require_keeps_an_installed_packages_own_import_error(monkeypatch):
    def broken(name):
        raise ImportError("cannot import name 'thing' from 'scipy'", name="scipy")

    monkeypatch.setattr("importlib.import_module", broken)
    with pytest.raises(ImportError, match="from 'scipy'"):
        require("cvxpy", "the thing")


def test_goemans_williamson_without_cvxpy(monkeypatch):
    from qhybrid.classical.solvers import goemans_williamson

    _hide(monkeypatch, "cvxpy")
    with pytest.raises(ImportError, match=r"pip install 'qhybrid\[solvers\]'") as info:
        goemans_williamson(nx.cycle_graph(4))
    assert info.value.name == "cvxpy"
    with pytest.raises(TypeError, match="graph must be a networkx.Graph"):  # bad input is still named first
        goemans_williamson(None)


def test_solve_maxcut_without_cvxpy_leaves_the_row_out(monkeypatch, capsys):
    from qhybrid.hybrid import solve_cmd

    _hide(monkeypatch, "cvxpy")
    parser = argparse.ArgumentParser()
    solve_cmd.add_arguments(parser)
    args = parser.parse_args(["maxcut", "--nodes", "6", "--p", "1", "--maxiter", "5", "--seed", "1"])
    assert solve_cmd.run(args) == 0
    out, err = capsys.readouterr()
    assert "simulated annealing" in out and "Goemans-Williamson" not in out
    assert err.strip() == (
        "qhybrid: Goemans-Williamson row skipped: goemans_williamson (the Goemans-Williamson SDP) needs "
        "cvxpy, which is not installed: pip install 'qhybrid[solvers]'"
    )


def test_quantize_without_torchao(monkeypatch):
    from qhybrid.classical import MLP
    from qhybrid.classical.compression import Int8Linear, quantize_int8, torchao_available

    _hide(monkeypatch, "torchao")
    assert not torchao_available()
    model = MLP(4, 2, hidden=(8,))
    # auto falls back to the native layer, which needs nothing more
    assert any(isinstance(m, Int8Linear) for m in quantize_int8(model).modules())
    for kwargs in ({"backend": "torchao"}, {"mode": "dynamic"}, {"backend": "torchao", "mode": "dynamic"}):
        with pytest.raises(
            ImportError, match=r"needs torchao, which is not installed: pip install 'qhybrid\[compression\]'"
        ):
            quantize_int8(model, **kwargs)
    with pytest.raises(ValueError, match="mode 'dynamic' needs backend 'torchao'"):
        quantize_int8(model, backend="native", mode="dynamic")
    assert isinstance(model(torch.zeros(1, 4)), torch.Tensor)


def test_stock_plugin_row_is_skipped_with_one_line(monkeypatch):
    _hide(monkeypatch, "pennylane_qiskit")
    line = stock_plugin_missing("the stock qiskit.aer plugin row")
    assert line == (
        "skipped: the stock qiskit.aer plugin row needs pennylane-qiskit, which is not installed: "
        "pip install 'qhybrid[bench]'"
    )
    assert "\n" not in line


def test_info_names_the_extra_of_a_missing_distribution(monkeypatch, capsys):
    from qhybrid.hybrid import cli

    real = importlib.metadata.version

    def version(dist):
        if dist == "pennylane-qiskit":
            raise importlib.metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert cli.main(["info"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [
        "pennylane-qiskit",
        "not",
        "installed",
        "(optional:",
        "pip",
        "install",
        "'qhybrid[bench]')",
    ] in lines
