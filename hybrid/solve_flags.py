"""The ``qhybrid solve`` options that apply to one mode only: unset (``None``) on the command line until
the mode is known, then refused where the chosen mode would ignore them, else given their defaults.

A flag a user typed is never dropped in silence: ``solve vqe --molecule h2 --sites 4`` says that ``--sites``
belongs to the spin chains, and ``solve maxcut --graph edges.txt --nodes 7`` that a file's graph has its own
nodes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from qhybrid.hybrid.solve_inputs import GRAPHS

#: option (``args`` attribute) -> (its default, when it applies, what it applies to)
Rule = tuple[object, Callable[[argparse.Namespace], bool], str]

RULES: dict[str, dict[str, Rule]] = {
    "maxcut": {
        "nodes": (10, lambda a: a.graph in GRAPHS, "a generated graph (--graph " + "|".join(GRAPHS) + ")"),
        "degree": (3, lambda a: a.graph == "regular", "--graph regular"),
        "edge_prob": (0.5, lambda a: a.graph == "erdos", "--graph erdos"),
    },
    "qubo": {
        "size": (8, lambda a: a.matrix is None, "a random QUBO (without --matrix)"),
    },
    "vqe": {
        "sites": (6, lambda a: a.model is not None, "the spin chains (--model)"),
        "field": (1.0, lambda a: a.model == "tfim", "--model tfim"),
        "bond": (None, lambda a: a.model is None, "the molecules (--molecule)"),
        "layers": (
            3,
            lambda a: (
                (a.ansatz or ("uccsd" if a.model is None else "hardware_efficient")) == "hardware_efficient"
            ),
            "the hardware_efficient ansatz",
        ),
    },
}


def resolve_mode_flags(args: argparse.Namespace) -> None:
    """Refuse a mode-specific option the command would ignore (one line naming it and where it applies);
    give every unset one its default."""
    for name, (default, applies, where) in RULES.get(args.problem, {}).items():
        value = getattr(args, name)
        if value is None:
            setattr(args, name, default)
        elif not applies(args):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} applies to {where} only; this command would ignore it")
