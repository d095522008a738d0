"""`qhybrid bench`: the Aer layer benchmark ships in the package, so it runs without a source checkout."""

import subprocess
import sys
from pathlib import Path

import pytest

import qhybrid.hybrid
from qhybrid.hybrid import bench, cli


def test_the_benchmark_is_a_module_of_the_package():
    assert Path(bench.__file__).resolve().parent == Path(qhybrid.hybrid.__file__).resolve().parent
    assert callable(bench.main) and "plugin" in bench.BACKENDS


def test_bench_help_exits_0_outside_the_checkout(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "qhybrid.hybrid.cli", "bench", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: qhybrid bench [-h] [--full]" in result.stdout
    assert "qiskit.aer plugin" in result.stdout


@pytest.mark.parametrize("argv,expected", [(["bench"], ["--quick"]), (["bench", "--full"], [])])
def test_cli_calls_the_package_benchmark(monkeypatch, argv, expected):
    calls = []
    monkeypatch.setattr(bench, "main", lambda a: calls.append(a) or 0)
    assert cli.main(argv) == 0
    assert calls == [expected]


def test_one_cell_times_and_counts_circuits():
    seconds, circuits = bench.time_backend("aer", 2, 4, repeats=1)
    assert 0 < seconds < 30
    assert circuits is not None and circuits > 0
    assert bench.time_backend("default", 2, 4, repeats=1)[1] is None  # default.qubit does not count


def test_aer_gradients_agree_with_default_qubit():
    assert bench.check_agreement(n=2, batch=3) < 1e-10


def test_unknown_backend():
    with pytest.raises(ValueError, match=r"unknown benchmark backend 'gpu'; choose from \['aer'"):
        bench.make_step("gpu", 2)


def test_cells_of_the_quick_grid():
    assert bench._wanted("plugin", 4, 32, quick=True) and not bench._wanted("plugin", 4, 8, quick=True)
    assert bench._wanted("plugin", 4, 8, quick=False)
    assert not bench._wanted("aer", 12, 256, quick=True) and bench._wanted("aer", 12, 256, quick=False)
    assert not bench._wanted("aer/ps", 16, 32, quick=False)
