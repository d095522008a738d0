"""The classical examples run end to end (the quantum ones: tests/qml/test_examples.py) (shortened where they take options). Slow: run with -m slow."""

import pytest
from example_runs import run_example  # tests/example_runs.py, on sys.path through tests/conftest.py

CASES = {
    "train_resnet_digits.py": (["--epochs", "2"], "test accuracy"),
    "train_gpt.py": (["--epochs", "1", "--tokens", "20"], "--- sample ---"),
    "ddp_torchrun.py": ([], "replicas identical: True"),
    "compress_model.py": (["--repeats", "2"], "pruned 75% + fine-tune"),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    args, expected = CASES[script]
    if script == "train_resnet_digits.py":
        args = [*args, "--out", str(tmp_path)]
    run_example(script, args, tmp_path, expected, timeout=600)
