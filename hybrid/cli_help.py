"""Help text that names what a registry holds, read from the registry when the help is printed.

``qhybrid compare --help`` and ``qhybrid solve ... --help`` list the backends, optimisers, QAOA
initialisations and VQE ansätze from their one home (``qml.backend_names()``, ``qml.solvers.OPTIMIZERS``,
``qml.solvers.INITS``, ``qml.solvers.VQE_ANSATZE``), so
that adding one there changes the help too. Those modules load PennyLane and Aer (seconds), which building
the parser must not pay for every command: :class:`RegistryHelpFormatter` imports them only to print help.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="demo", formatter_class=RegistryHelpFormatter)
    >>> _ = parser.add_argument("--backend", help="one of %(backends)s")
    >>> "aer, aer.shots" in parser.format_help()
    True
"""

from __future__ import annotations

import argparse

__all__ = ["PLACEHOLDERS", "RegistryHelpFormatter"]


def _backends() -> list[str]:
    from qhybrid.qml.backends import backend_choices

    return backend_choices()


def _optimizers() -> list[str]:
    from qhybrid.qml.solvers import OPTIMIZERS

    return list(OPTIMIZERS)


def _qaoa_inits() -> list[str]:
    from qhybrid.qml.solvers import INITS

    return list(INITS)


def _vqe_ansatze() -> list[str]:
    from qhybrid.qml.solvers import VQE_ANSATZE

    return list(VQE_ANSATZE)


#: The placeholders a help string may hold, each with the function that reads its registry.
PLACEHOLDERS = {
    "%(backends)s": _backends,
    "%(optimizers)s": _optimizers,
    "%(qaoa_inits)s": _qaoa_inits,
    "%(vqe_ansatze)s": _vqe_ansatze,
}


class RegistryHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions and epilogs kept as written) that fills the
    :data:`PLACEHOLDERS` of each help string with the names, comma-separated."""

    def _get_help_string(self, action: argparse.Action) -> str:
        # the hook argparse's own ArgumentDefaultsHelpFormatter overrides; argparse then applies
        # "%"-formatting with the action's fields, which the filled-in names no longer need
        text = super()._get_help_string(action) or ""
        for placeholder, names in PLACEHOLDERS.items():
            if placeholder in text:
                text = text.replace(placeholder, ", ".join(names()))
        return text
