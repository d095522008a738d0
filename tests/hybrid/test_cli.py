"""The ``qhybrid`` command: help, info, a tiny compare run end to end, and clear errors."""

import json
import subprocess
import sys

import pytest

from qhybrid.hybrid.cli import build_parser, main


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "qhybrid.hybrid.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("compare", "report", "solve", "bench", "info"):
        assert command in out


def test_compare_help(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "--config" in out and "--backends" in out and "--seeds" in out


def test_info_reports_versions_backends_and_accelerators(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["pennylane"] and info["versions"]["qiskit-aer"] and info["versions"]["torch"]
    names = {row["name"]: row["available"] for row in info["backends"]}
    assert names == {
        "aer": True,
        "aer.shots": True,
        "aer.density": True,
        "aer.mps": True,
        "lightning": True,
        "default": True,
        "torch": True,
        "torch.density": True,
        "torch.trajectories": True,
    }
    assert "cpu" in info["accelerators"]["available"]


def test_compare_runs_end_to_end_on_a_tiny_experiment(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(
        'name = "tiny"\n'
        'models = ["mlp", "dressed"]\n'
        'datasets = ["moons"]\n'
        'backends = ["aer"]\n'
        "seeds = 2\n"
        "[data]\n"
        "n_samples = 40\n"
        "[params.mlp]\n"
        "max_epochs = 5\n"
        "[params.dressed]\n"
        "max_epochs = 2\n"
        "n_qubits = 2\n"
    )
    out = tmp_path / "out"
    result = run_cli("compare", "--config", str(config), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "dressed" in result.stdout and "mlp" in result.stdout and "test acc" in result.stdout
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line) for line in lines)
    for name in ("summary.md", "summary.csv", "accuracy_vs_fit_time.png"):
        assert (out / name).stat().st_size > 0


def test_unknown_backend_fails_with_the_allowed_names():
    result = run_cli("compare", "--backends", "qiskit.aer", "--out", "/nonexistent/never-written")
    assert result.returncode == 2
    assert "qiskit.aer" in result.stderr and "aer.density" in result.stderr
    assert "Traceback" not in result.stderr


def test_parser_builds_without_running_anything():
    parser = build_parser()
    args = parser.parse_args(["info"])
    assert args.command == "info"
