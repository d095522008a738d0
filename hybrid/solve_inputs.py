"""The problem of a ``qhybrid solve`` command line: a generated or file graph for ``maxcut``, a random or
file matrix for ``qubo``.

Files are parsed here (``u v [weight]`` lines; ``.npy``, ``.csv`` or whitespace-separated matrices) and
then checked by :mod:`classical.problems`, the rules both solver sides share, with the file named in the
message. networkx and numpy load inside the functions, so that building the ``qhybrid`` parser stays fast.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["GRAPHS", "build_graph", "build_qubo"]

#: The graphs ``--graph`` generates.
GRAPHS = ("regular", "erdos", "cycle", "complete")


def build_graph(args: argparse.Namespace):
    """The graph of a ``qhybrid solve maxcut`` command line, and the table's title.

    ``args.graph`` names a generator (:data:`GRAPHS`: ``--nodes``, ``--degree``, ``--edge-prob``, seeded by
    ``--seed``) or an edge-list file of ``u v [weight]`` lines; ``--weighted`` draws integer weights 1..4
    for a generated graph and reads column 3 of a file. A file's graph is checked here, by the rules of
    :func:`classical.problems.check_graph`, so that its errors name the file.

    Example:
        >>> ns = argparse.Namespace(graph="cycle", nodes=4, weighted=False, seed=0)
        >>> build_graph(ns)[1]
        'cycle graph, 4 nodes, 4 edges'
    """
    import networkx as nx
    import numpy as np

    from qhybrid.classical.problems import check_graph

    if args.graph in GRAPHS:
        if args.nodes < 2:
            raise ValueError(f"--nodes must be >= 2, got {args.nodes}")
        if args.graph == "regular":
            if not 0 < args.degree < args.nodes or (args.degree * args.nodes) % 2:
                raise ValueError(
                    f"no {args.degree}-regular graph on {args.nodes} nodes: need 0 < degree < nodes and "
                    "degree * nodes even"
                )
            g = nx.random_regular_graph(args.degree, args.nodes, seed=args.seed)
        elif args.graph == "erdos":
            if not 0 < args.edge_prob <= 1:
                raise ValueError(f"--edge-prob must be in (0, 1], got {args.edge_prob}")
            g = nx.gnp_random_graph(args.nodes, args.edge_prob, seed=args.seed)
        elif args.graph == "cycle":
            g = nx.cycle_graph(args.nodes)
        else:
            g = nx.complete_graph(args.nodes)
        if args.weighted:
            rng = np.random.default_rng(args.seed)
            for u, v in g.edges:
                g[u][v]["weight"] = float(rng.integers(1, 5))
        return g, f"{args.graph} graph, {g.number_of_nodes()} nodes, {g.number_of_edges()} edges"
    path = Path(args.graph)
    if not path.exists():
        raise FileNotFoundError(f"--graph {args.graph!r} is neither one of {', '.join(GRAPHS)} nor a file")
    g = _read_edges(path, args.weighted)
    try:
        check_graph(g)
    except ValueError as err:  # weights are numbers by now: what is left is a rule of MaxCut (w >= 0)
        raise ValueError(f"--graph {str(path)!r}: {err}") from None
    return g, f"{path.name}, {g.number_of_nodes()} nodes, {g.number_of_edges()} edges"


def _read_edges(path: Path, weighted: bool):
    """An edge-list file: ``u v`` or ``u v weight`` lines, ``#`` comments."""
    import networkx as nx

    from qhybrid.hybrid.validation import read_text

    g = nx.Graph()
    for k, line in enumerate(read_text(path, "--graph").splitlines(), 1):
        parts = line.split("#")[0].split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise ValueError(f"--graph {str(path)!r} line {k}: expected 'u v' or 'u v weight', got {line!r}")
        w = 1.0
        if len(parts) == 3 and weighted:
            w = _number(parts[2], f"--graph {str(path)!r} line {k}: weight")
        if parts[0] == parts[1]:
            raise ValueError(
                f"--graph {str(path)!r} line {k}: self-loop {parts[0]!r} {parts[1]!r} has no cut"
            )
        if g.has_edge(parts[0], parts[1]):  # as the Python API refuses a repeated edge
            raise ValueError(
                f"--graph {str(path)!r} line {k}: edge {parts[0]!r} {parts[1]!r} appears twice (an edge is "
                f"undirected: 'u v' and 'v u' are the same); give each edge once"
            )
        g.add_edge(parts[0], parts[1], weight=w)
    if g.number_of_edges() == 0:
        raise ValueError(f"--graph {str(path)!r}: no edges (expected 'u v' or 'u v weight' lines)")
    return g


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a finite number")
    return value


def build_qubo(args: argparse.Namespace):
    """The QUBO matrix of a ``qhybrid solve qubo`` command line, and the table's title: ``--matrix`` (a
    ``.npy`` or text file, checked by :func:`classical.problems.check_qubo` with the file named in its
    errors) or a random symmetric matrix of ``--size`` variables, seeded by ``--seed``."""
    import numpy as np

    from qhybrid.classical.problems import check_qubo

    if args.matrix is None:
        if args.size < 1:
            raise ValueError(f"--size must be >= 1, got {args.size}")
        a = np.random.default_rng(args.seed).normal(size=(args.size, args.size))
        return (a + a.T) / 2, f"random QUBO, {args.size} variables"
    path = Path(args.matrix)
    if not path.exists():
        raise FileNotFoundError(f"--matrix file {args.matrix!r} not found")
    q = _read_matrix(path)
    try:
        q, _ = check_qubo(q)
    except ValueError as err:
        raise ValueError(f"--matrix {args.matrix!r}: {err}") from None
    return q, f"{path.name}, {q.shape[0]} variables"


def _read_matrix(path: Path):
    """Q from ``.npy`` (no pickles) or text (``.csv`` comma-separated, else whitespace-separated)."""
    import io

    import numpy as np

    from qhybrid.hybrid.validation import read_text

    what = f"--matrix {str(path)!r}"
    try:
        if path.suffix == ".npy":
            if path.is_dir():
                raise ValueError(f"{what}: is a directory, not a file")
            q = np.load(path, allow_pickle=False)
        else:
            text = read_text(path, "--matrix")
            q = np.loadtxt(io.StringIO(text), delimiter="," if path.suffix == ".csv" else None, ndmin=2)
    except (ValueError, EOFError) as err:
        if str(err).startswith(what):
            raise
        raise ValueError(f"{what}: not a numeric matrix ({' '.join(str(err).split())})") from None
    if not isinstance(q, np.ndarray) or not np.issubdtype(q.dtype, np.number):
        raise ValueError(f"{what}: not a numeric matrix (dtype {getattr(q, 'dtype', type(q).__name__)})")
    if np.iscomplexobj(q):
        raise ValueError(f"{what}: a QUBO matrix is real; this one is complex ({q.dtype})")
    return np.atleast_2d(q).astype(float)
