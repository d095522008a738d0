"""The quantum and comparison examples run end to end, with small arguments. Slow: run with -m slow."""

import importlib.util

import pytest
from example_runs import run_example  # tests/example_runs.py, on sys.path through tests/conftest.py

# script -> (arguments, text its output must hold)
CASES = {
    "qaoa_maxcut.py": (["--nodes", "6", "--depth", "2", "--out", "qaoa.png"], "max cut"),
    "vqe_h2.py": (["--points", "2", "--ansatz", "doubles", "--out", "vqe.png"], "max |VQE - exact|"),
    "noisy_device.py": (
        ["--epochs", "1", "--samples", "40"],
        "the density engine (what backend='auto' picks",
    ),
    "compare_quick.py": ([], "written:"),
    "compare_backends.py": ([], "written:"),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    if script == "noisy_device.py" and importlib.util.find_spec("qiskit_ibm_runtime") is None:
        pytest.skip("noisy_device.py needs the ibm extra")
    args, expected = CASES[script]
    run_example(script, args, tmp_path, expected)
    if "--out" in args:
        assert (tmp_path / args[args.index("--out") + 1]).stat().st_size > 0  # the plot was written
