"""Bad input through the ``qhybrid`` command and the experiment configuration: one clear line naming the bad
value, exit code 2, before any cell runs; a failed cell makes ``compare`` exit 1; a bug keeps its traceback.

Everything runs in-process (``main([...])``): no cell trains except in the run-time-failure test.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qhybrid.hybrid import compare_cmd, runner
from qhybrid.hybrid.cli import main
from qhybrid.hybrid.config import parse_config, read_toml
from qhybrid.hybrid.validation import check_experiment, check_output_dir, toml_line

BASE = """\
name = "bad"
models = ["svc", "mlp", "dressed"]
datasets = ["moons"]
backends = ["default"]
seeds = 1

[data]
n_samples = 40

[params.mlp]
max_epochs = 1

[params.dressed]
max_epochs = 1
"""


def _toml(tmp_path, extra="", replace=None):
    text = BASE if replace is None else BASE.replace(*replace)
    path = tmp_path / "exp.toml"
    path.write_text(text + extra)
    return path


def _cli(capsys, *argv):
    """Exit code and the last line of stderr of ``qhybrid ARGV``."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def _compare(capsys, tmp_path, toml, *more):
    return _cli(capsys, "compare", "--config", toml, "--out", tmp_path / "out", "--no-progress", *more)


def _assert_no_cell_ran(tmp_path):
    assert not (tmp_path / "out" / "results.jsonl").exists()


# ------------------------------------------------------------------ values that used to fail every cell


@pytest.mark.parametrize(
    "extra, replace, expected",
    [
        ("[params.svc]\nC = -1.0\n", None, r"exp.toml:16: params.svc.C = -1.0 fails .*range \(0.0, inf\]"),
        (None, ("[params.mlp]\n", '[params.mlp]\nactivation = "swish"\n'), 'params.mlp.activation = "swish"'),
        (None, ("[params.dressed]\n", "[params.dressed]\nn_qubits = 40\n"), "params.dressed.n_qubits = 40"),
        (None, ("[params.dressed]\n", '[params.dressed]\nansatz = "zigzag"\n'), "unknown ansatz 'zigzag'"),
        (
            None,
            ("n_samples = 40", "n_samples = 1"),
            r"exp.toml:8: data.n_samples = 1 .*must be in 4..10000000",
        ),
    ],
    ids=["svc-C", "activation", "n_qubits-40", "ansatz", "n_samples"],
)
def test_the_five_run_time_failures_stop_before_any_cell(capsys, tmp_path, extra, replace, expected):
    code, line = _compare(capsys, tmp_path, _toml(tmp_path, extra or "", replace))
    assert code == 2
    assert line.startswith("qhybrid: error: ")
    assert re.search(expected, line), line
    _assert_no_cell_ran(tmp_path)


def test_the_memory_guard_is_asked_with_the_host_memory_pinned(capsys, tmp_path, monkeypatch):
    import qhybrid.qml.backends as backends

    monkeypatch.setattr(backends, "available_memory_bytes", lambda: 2**30)  # 1 GiB: 26 qubits fit
    toml = _toml(tmp_path, replace=("[params.dressed]\n", "[params.dressed]\nn_qubits = 27\n"))
    code, line = _compare(capsys, tmp_path, toml)
    assert code == 2 and "params.dressed.n_qubits = 27" in line and "at most 26 qubits fit" in line


@pytest.mark.parametrize(
    "replace, expected",
    [
        (
            ("[params.dressed]\n", '[params.dressed]\nentangling = "no"\n'),
            'entangling = "no": must be true or false',
        ),
        (
            ("max_epochs = 1\n\n[params.dressed]", "max_epochs = 1.5\n\n[params.dressed]"),
            "max_epochs = 1.5: must be an integer",
        ),
        (("[params.dressed]\n", "[params.dressed]\nlr = inf\n"), "lr = inf: must be a finite number"),
        (
            ("[params.mlp]\n", "[params.mlp]\nhidden = [0]\n"),
            "hidden = [0]: must be a list of positive integers",
        ),
        (("[params.dressed]\n", "[params.dressed]\nn_qubits = true\n"), "n_qubits = true"),
        (
            ("n_samples = 40", 'n_samples = 40\nstandardize = "no"'),
            'data.standardize = "no": must be true or false',
        ),
        (("n_samples = 40", 'n_samples = "40"'), 'data.n_samples = "40": must be an integer'),
        (
            ("n_samples = 40", 'n_samples = 40\ndtype = "float16"'),
            "dtype must be one of 'float32', 'float64' (the features' dtype), got 'float16'",
        ),
        (("n_samples = 40", "n_samples = 40\ndtype = 64"), 'data.dtype = 64: must be "float32" or "float64"'),
        (
            ("n_samples = 40", "n_samples = 40\nrandom_state = -1"),
            "random_state must be in 0..4294967295, got -1",
        ),
        (
            ('models = ["svc", "mlp", "dressed"]', 'models = ["svc", "mlp", "svc"]'),
            "'models' names 'svc' twice",
        ),
        (('datasets = ["moons"]', 'datasets = ["moons", "moons"]'), "'datasets' names 'moons' twice"),
        (("seeds = 1", "seeds = [0, 3, 0]"), "'seeds' names 0 twice"),
        (("seeds = 1", "seeds = [0.5]"), "got [0.5]"),
        (('backends = ["default"]', 'backends = ["qiskit"]'), "unknown backend 'qiskit'"),
        (('datasets = ["moons"]', 'datasets = ["mnist"]'), "unknown data set 'mnist'"),
        (("[params.mlp]\n", "[params.mlp]\nwidth = 3\n"), "unknown parameter 'width' in params.mlp"),
    ],
)
def test_bad_values_name_the_key_and_value(capsys, tmp_path, replace, expected):
    code, line = _compare(capsys, tmp_path, _toml(tmp_path, replace=replace))
    assert code == 2 and line.startswith("qhybrid: error: ") and re.search(r"exp\.toml(:\d+)?: ", line), line
    assert expected in line, line
    _assert_no_cell_ran(tmp_path)


def test_width_of_a_variant_names_the_variant_table(capsys, tmp_path):
    toml = _toml(
        tmp_path,
        '[variants.wide]\nmodel = "vqc"\nn_qubits = 41\n',
        ('models = ["svc", "mlp", "dressed"]', 'models = ["wide"]'),
    )
    code, line = _compare(capsys, tmp_path, toml)
    assert code == 2 and "exp.toml:17: variants.wide.n_qubits = 41" in line and "at most 40" in line


def test_data_options_are_checked_against_each_data_set(capsys, tmp_path):
    toml = _toml(tmp_path, replace=("n_samples = 40", "n_features = 3"))
    toml.write_text(
        toml.read_text().replace(
            'datasets = ["moons"]', 'datasets = ["linearly_separable", "qmlb:linearly_separable_10d"]'
        )
    )
    code, line = _compare(capsys, tmp_path, toml)
    assert code == 2 and "exp.toml:8: data.n_features = 3" in line and "'qmlb:linearly_separable_10d'" in line


# ------------------------------------------------------------------------------------ command-line flags


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--jobs", "0"], "--jobs must be >= 1, got 0"),
        (["--jobs", "-3"], "--jobs must be >= 1, got -3"),
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--models", "mlp,mlp"], "--models names 'mlp' more than once"),
        (["--datasets", "moons,iris,moons"], "--datasets names 'moons' more than once"),
        (["--backends", "aer,qiskit.aer"], "unknown backend 'qiskit.aer'"),
        (["--models", ","], "--models needs at least one name"),
    ],
)
def test_bad_flags(capsys, tmp_path, flags, expected):
    code, line = _compare(capsys, tmp_path, _toml(tmp_path), *flags)
    assert code == 2 and expected in line, line
    _assert_no_cell_ran(tmp_path)


def test_a_flag_override_is_not_blamed_on_the_file(capsys, tmp_path):
    code, line = _compare(capsys, tmp_path, _toml(tmp_path), "--models", "qnn")
    assert code == 2 and "unknown model 'qnn'" in line and "exp.toml:2" not in line


def test_argparse_type_errors_keep_exit_code_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--jobs", "two"])
    assert exc.value.code == 2 and "invalid int value: 'two'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------- files


def test_config_file_errors(capsys, tmp_path):
    out = ["--out", tmp_path / "out"]
    code, line = _cli(capsys, "compare", "--config", tmp_path, *out)
    assert code == 2 and f"{str(tmp_path)!r}: is a directory, not a file" in line
    binary = tmp_path / "exp.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    code, line = _cli(capsys, "compare", "--config", binary, *out)
    assert code == 2 and "exp.bin" in line and "not a UTF-8 text file (byte 0" in line
    broken = tmp_path / "broken.toml"
    broken.write_text("models = [mlp]\n")
    code, line = _cli(capsys, "compare", "--config", broken, *out)
    assert code == 2 and "broken.toml: not valid TOML" in line and "line 1" in line
    code, line = _cli(capsys, "compare", "--config", tmp_path / "missing.toml", *out)
    assert code == 2 and "missing.toml" in line and "does not exist" in line


def test_empty_paths_a_fifo_and_a_byte_order_mark(capsys, tmp_path):
    import os

    code, line = _cli(capsys, "compare", "--config", "")
    assert (
        code == 2
        and line == "qhybrid: error: --config is empty; give a path, or leave the option out for the default"
    )
    code, line = _cli(capsys, "compare", "--config", _toml(tmp_path), "--out", "")
    assert code == 2 and line.endswith("--out is empty; give a path, or leave the option out for the default")
    fifo = tmp_path / "exp.fifo"
    os.mkfifo(fifo)  # reading it would block until a writer came
    code, line = _cli(capsys, "compare", "--config", fifo, "--out", tmp_path / "out")
    assert code == 2 and line.endswith(f"{str(fifo)!r}: not a regular file")
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert read_toml(bom)["name"] == "bad"


@pytest.mark.parametrize(
    "replace, expected",
    [
        (('name = "bad"', 'name = "bad\\u001b[31m"'), r"'name' must be a non-empty printable string"),
        (('name = "bad"', 'name = "two\\nlines"'), r"'name' must be a non-empty printable string"),
        (("seeds = 1", "seeds = 1000000000000"), r"'seeds' must be a count from 1 to 10000"),
        (("seeds = 1", "seeds = [4294967296]"), r"list of ints from 0 to 4294967295"),
        (
            ("n_samples = 40", "n_samples = 1000000000000"),
            r"n_samples must be in 4..10000000, got 1000000000000",
        ),
        (
            ("[params.mlp]\nmax_epochs = 1", "[params.mlp]\nmax_epochs = 9223372036854775807"),
            r"max_epochs must be in 1..1000000, got 9223372036854775807",
        ),
    ],
    ids=["ansi-name", "newline-name", "seed-count", "seed-2**32", "n_samples-1e12", "max_epochs-2**63"],
)
def test_names_and_seeds_out_of_bounds(capsys, tmp_path, replace, expected):
    code, line = _compare(capsys, tmp_path, _toml(tmp_path, replace=replace))
    assert code == 2 and re.search(expected, line), line
    _assert_no_cell_ran(tmp_path)


def test_out_that_cannot_hold_results(capsys, tmp_path, monkeypatch):
    toml = _toml(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, line = _cli(capsys, "compare", "--config", toml, "--out", afile)
    assert code == 2 and f"--out {str(afile)!r}: exists and is not a folder" in line
    code, line = _cli(capsys, "compare", "--config", toml, "--out", afile / "sub")
    assert code == 2 and "is a file, so the folder cannot be created" in line
    import qhybrid.hybrid.validation as validation

    monkeypatch.setattr(validation.os, "access", lambda path, mode: False)  # as on a read-only file system
    code, line = _cli(capsys, "compare", "--config", toml, "--out", tmp_path / "new" / "deeper")
    assert code == 2 and "cannot be created: its parent" in line and "is not writable" in line


def test_a_disk_error_during_the_run_is_one_line(capsys, tmp_path, monkeypatch):
    def full(path, record):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(runner, "append_record", full)
    toml = _toml(tmp_path, replace=('models = ["svc", "mlp", "dressed"]', 'models = ["logreg"]'))
    code, line = _compare(capsys, tmp_path, toml)
    assert code == 2 and line.endswith("results.jsonl: No space left on device")


def _results(tmp_path, lines):
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(line + "\n" for line in lines))
    return folder


@pytest.mark.parametrize(
    "lines, expected",
    [
        (['{"a": 1}'], "results.jsonl:1: not a qhybrid result record (no 'key', 'status', 'model'"),
        (['{"key": "k", "status": "ok"}'], "results.jsonl:1: not a qhybrid result record (no 'model'"),
        (["[1, 2]"], "results.jsonl:1: not a qhybrid result record (a JSON list, not an object)"),
        (['"text"', "{}"], "results.jsonl:1: not a qhybrid result record (a JSON str"),
        (["garbage", "{}"], "results.jsonl:1: not a JSON record"),
    ],
)
def test_report_on_lines_that_are_not_records(capsys, tmp_path, lines, expected):
    code, line = _cli(capsys, "report", _results(tmp_path, lines), "--no-plots")
    assert code == 2 and expected in line, line


def _record(key="k"):
    return json.dumps(
        {
            "key": key,
            "status": "ok",
            "model": "m",
            "dataset": "d",
            "platform": "cpu",
            "seed": 0,
            "test_accuracy": 1,
        }
    )


def test_report_repair_sets_broken_lines_aside_and_keeps_every_record(capsys, tmp_path):
    folder = _results(tmp_path, [_record("a"), "garbage", _record("b"), '{"a": 1}', _record("c")])
    code, line = _cli(capsys, "report", folder, "--no-plots")
    assert code == 2 and "results.jsonl:2: not a JSON record" in line
    assert f"`qhybrid report --repair {folder}` sets such lines aside in results.corrupt.jsonl" in line
    code, _ = _cli(capsys, "report", folder, "--no-plots", "--repair")
    assert code == 0
    kept = [json.loads(x)["key"] for x in (folder / "results.jsonl").read_text().splitlines()]
    assert kept == ["a", "b", "c"]
    assert (folder / "results.corrupt.jsonl").read_text() == 'garbage\n{"a": 1}\n'


def test_report_on_a_corrupt_experiment_description(capsys, tmp_path):
    folder = _results(tmp_path, [_record()])
    (folder / "experiment.json").write_text('{"name": "x", "cell_keys": [')
    code, line = _cli(capsys, "report", folder, "--no-plots")
    assert code == 2 and "experiment.json" in line and "not valid JSON (line 1" in line
    (folder / "experiment.json").write_bytes(b"\xff\xfe\x00")
    code, line = _cli(capsys, "report", folder, "--no-plots")
    assert code == 2 and "experiment.json" in line and "not a UTF-8 text file" in line
    (folder / "experiment.json").write_text('{"cell_keys": 3}')
    code, line = _cli(capsys, "report", folder, "--no-plots")
    assert code == 2 and "not one written by qhybrid compare" in line


def test_report_on_a_missing_folder(capsys, tmp_path):
    code, line = _cli(capsys, "report", tmp_path / "nope")
    assert code == 2 and "nope" in line and "does not exist" in line


# ------------------------------------------------------------------------------------------------ solve


def _solve(capsys, *argv):
    return _cli(capsys, "solve", *argv)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("a b heavy\n", "line 1: weight 'heavy' is not a number"),
        ("a b nan\n", "line 1: weight 'nan' is not a finite number"),
        ("a b c d\n", "line 1: expected 'u v' or 'u v weight', got 'a b c d'"),
        ("# only a comment\n", "no edges"),
        ("a a\n", "self-loop 'a' 'a'"),
    ],
)
def test_unparsable_graph_files(capsys, tmp_path, content, expected):
    path = tmp_path / "g.txt"
    path.write_text(content)
    code, line = _solve(capsys, "maxcut", "--graph", path, "--weighted")
    assert code == 2 and "g.txt" in line and expected in line, line


def test_binary_graph_file(capsys, tmp_path):
    path = tmp_path / "g.bin"
    path.write_bytes(bytes(range(128, 256)))
    code, line = _solve(capsys, "maxcut", "--graph", path)
    assert code == 2 and "--graph" in line and "g.bin" in line and "not a UTF-8 text file" in line


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("q.csv", "1,2,3\n4,5,6\n", "QUBO matrix must be square (n, n), got shape (2, 3)"),
        ("q.txt", "1 x\n2 3\n", "not a numeric matrix"),
        ("q.npy", b"not numpy at all", "not a numeric matrix"),
        ("q.csv", "1,nan\nnan,1\n", "NaN or infinite"),
    ],
)
def test_unparsable_matrix_files(capsys, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, line = _solve(capsys, "qubo", "--matrix", path)
    assert code == 2 and name in line and expected in line, line


def test_pickled_npy_is_refused(capsys, tmp_path):
    path = tmp_path / "q.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, line = _solve(capsys, "qubo", "--matrix", path)
    assert code == 2 and "q.npy" in line and "not a numeric matrix" in line and "allow_pickle" in line


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["maxcut", "--seed", "-1"], "--seed must be in 0..4294967295, got -1"),
        (["qubo", "--p", "0"], "--p must be >= 1, got 0"),
        (["maxcut", "--shots", "0"], "--shots must be >= 1, got 0"),
        (["vqe", "--bond", "-0.7"], "--bond must be > 0, got -0.7"),
        (["vqe", "--stepsize", "nan"], "--stepsize must be a finite number, got nan"),
        (["vqe", "--model", "tfim", "--sites", "1"], "--sites must be >= 2, got 1"),
        (["maxcut", "--graph", "missing.txt"], "'missing.txt' is neither one of regular"),
    ],
)
def test_bad_solve_options(capsys, argv, expected):
    code, line = _solve(capsys, *argv)
    assert code == 2 and expected in line, line


# --------------------------------------------------------------------------- failures that are not input


def test_a_cell_failing_at_run_time_makes_compare_exit_1(capsys, tmp_path, monkeypatch):
    from qhybrid.hybrid import models

    def broken(estimator):
        raise RuntimeError("stats exploded")

    monkeypatch.setattr(models, "fitted_stats", broken)
    toml = _toml(tmp_path, replace=('models = ["svc", "mlp", "dressed"]', 'models = ["logreg"]'))
    code, line = _compare(capsys, tmp_path, toml, "--no-plots")
    out = tmp_path / "out" / "results.jsonl"
    assert code == 1
    assert line == f'qhybrid: 1 of 1 cells failed; their records (status "error") are in {out}'


def test_a_bug_keeps_its_traceback(monkeypatch):
    def buggy(args):
        return {}["missing"]

    monkeypatch.setattr(compare_cmd, "run", buggy)
    with pytest.raises(KeyError):
        main(["compare"])


# ----------------------------------------------------------------------------------------- the Python API


def test_api_errors(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a file"):
        read_toml(tmp_path)
    with pytest.raises(ValueError, match="'models' names 'mlp' twice"):
        parse_config({"models": ["mlp", "mlp"], "datasets": ["moons"]})
    with pytest.raises(ValueError, match=r"params.dressed.shots = 1.5: must be an integer|shots"):
        parse_config({"models": ["dressed"], "datasets": ["moons"], "params": {"dressed": {"shots": 1.5}}})
    config = parse_config({"models": ["svc"], "datasets": ["moons"], "params": {"svc": {"kernel": "cubic"}}})
    with pytest.raises(ValueError, match=r"params.svc.kernel = \"cubic\" fails .*'kernel' parameter of SVC"):
        check_experiment(config, {"params": {"svc": {"kernel": "cubic"}}})
    with pytest.raises(ValueError, match="exists and is not a folder"):
        (tmp_path / "f").write_text("")
        check_output_dir(tmp_path / "f")


def test_toml_line_finds_keys_in_tables():
    text = 'models = ["a"]\n\n[params.svc]  # comment\nC = 1\n[ variants . "v1" ]\nn_qubits = 3\n[params]\nmlp.lr = 1\n'
    assert toml_line(text, "models") == 1
    assert toml_line(text, "params.svc.C") == 4
    assert toml_line(text, "variants.v1.n_qubits") == 6
    assert toml_line(text, "params.mlp.lr") == 8
    assert toml_line(text, "params.svc.kernel") is None


def test_a_kernel_model_on_the_torch_engine_is_refused_before_any_cell(tmp_path, capsys):
    from qhybrid.hybrid.cli import main

    code = main(["compare", "--models", "iqp-kernel", "--datasets", "moons", "--backends", "torch",
                 "--seeds", "1", "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "a quantum kernel needs a PennyLane device" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_a_compare_with_other_flags_and_no_out_writes_a_folder_of_its_own(tmp_path, monkeypatch):
    import argparse

    from qhybrid.hybrid.compare_cmd import build_config, default_out

    monkeypatch.chdir(tmp_path)
    toml = _toml(tmp_path)
    plain = argparse.Namespace(config=str(toml), models=None, datasets=None, backends=None, accelerators=None)
    svc = argparse.Namespace(**{**vars(plain), "models": ["svc"]})
    mlp = argparse.Namespace(**{**vars(plain), "models": ["mlp"]})
    outs = [default_out(build_config(a, check=False), a) for a in (plain, svc, mlp, svc)]
    assert outs[0] == Path("results/compare-bad")
    assert outs[1] != outs[2] and outs[1] == outs[3]  # the same flags: the same folder, so it resumes
    assert re.fullmatch(r"compare-bad-[0-9a-f]{8}", outs[1].name)
