"""Every docstring example in the package runs and prints what it says (one test per module)."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import qhybrid


def _modules() -> list[str]:
    # qhybrid's own folder holds only private helpers; a source checkout also puts the repository root on
    # its search path (qhybrid/__init__.py), so its subpackages are walked from their own folders.
    root = Path(qhybrid.__file__).parent
    # (``__main__`` runs the command when imported: it has no examples and is left out)
    names = ["qhybrid"] + [
        f"qhybrid.{m.name}" for m in pkgutil.iter_modules([str(root)]) if not m.ispkg and m.name != "__main__"
    ]
    for sub in ("qhybrid.qml", "qhybrid.classical", "qhybrid.hybrid"):
        package = importlib.import_module(sub)
        names.append(sub)
        names.extend(info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{sub}."))
    return sorted(set(names))


MODULES = _modules()


def test_the_package_has_docstring_examples():
    finder = doctest.DocTestFinder()
    examples = sum(
        len(t.examples) for name in MODULES for t in finder.find(importlib.import_module(name), name)
    )
    assert examples >= 28


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"


def test_the_version_has_one_source():
    from importlib.metadata import version

    assert qhybrid.__version__ == version("qhybrid")
