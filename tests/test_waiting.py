"""qhybrid._waiting: idle-thread settings go into the environment before the libraries load."""

import os
import subprocess
import sys

from qhybrid._waiting import WAITING, wait_passively


def test_defaults_are_set_and_a_users_choice_is_kept(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "12")
    wait_passively()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "12"


def test_the_command_sets_them_before_numpy_loads():
    # a fresh interpreter without the settings: importing the command's module sets them and loads no numpy
    code = (
        "import sys, os; import qhybrid.hybrid.cli; "
        "print(os.environ['OMP_WAIT_POLICY'], os.environ['OPENBLAS_THREAD_TIMEOUT'], 'numpy' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in WAITING}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PASSIVE", "4", "False"]
