"""The distribution installs one import package, ``qhybrid``, and nothing named qml/classical/hybrid."""

import subprocess
import sys

_CODE = """
import importlib.util, qhybrid
print([m for m in ("qml", "classical", "hybrid") if importlib.util.find_spec(m) is not None])
print(qhybrid.QuantumLayer.__module__, qhybrid.Trainer.__module__, qhybrid.make_model.__module__)
print(qhybrid.QAOA.__module__)
"""


def test_one_top_level_package(tmp_path):
    # from a folder outside the checkout, as a user's script would run
    out = subprocess.run(
        [sys.executable, "-c", _CODE], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    squatted, modules, solvers = out.stdout.strip().splitlines()
    assert squatted == "[]"
    assert modules == "qhybrid.qml.layer qhybrid.classical.training.trainer qhybrid.hybrid.models"
    assert solvers == "qhybrid.qml.solvers.qaoa"


def test_unknown_top_level_name():
    import pytest

    import qhybrid

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        qhybrid.nope  # noqa: B018


def test_dir_lists_the_public_names_only():
    import qhybrid

    names = dir(qhybrid)
    assert {"QuantumLayer", "VQE", "make_model", "wait_passively", "__version__"} <= set(names)
    assert not {"Path", "TYPE_CHECKING", "annotations", "lazy_exports", "_EXPORTS"} & set(names)


def test_version_from_the_command_and_python_dash_m():
    import subprocess
    import sys

    import qhybrid

    out = subprocess.run(
        [sys.executable, "-m", "qhybrid", "--version"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == f"qhybrid {qhybrid.__version__}"


def test_pennylanes_device_entry_point_loads_neither_torch_nor_scikit_learn():
    """``qml.device("qhybrid.aer")`` pays for PennyLane, qiskit-aer and numpy only (PennyLane itself loads
    matplotlib when it is installed)."""
    import subprocess
    import sys

    code = (
        "import sys, pennylane as qml; qml.device('qhybrid.aer', wires=1); "
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
