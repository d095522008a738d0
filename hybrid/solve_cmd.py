"""``qhybrid solve maxcut|qubo|vqe``: a variational solver and its classical references in one table.

Examples::

    qhybrid solve maxcut --nodes 10 --p 3                     # random 3-regular graph, QAOA on aer
    qhybrid solve maxcut --graph edges.txt --weighted          # "u v w" lines
    qhybrid solve qubo --matrix Q.npy --p 2
    qhybrid solve vqe --molecule h2 --bond 0.74
    qhybrid solve vqe --model tfim --sites 6 --ansatz hardware_efficient --optimizer adam

The quantum solver runs first, then brute force (when small enough), simulated annealing and, for
MaxCut, Goemans-Williamson (with the ``solvers`` extra; without it the row is left out with a note on
stderr); for VQE, Hartree-Fock and exact diagonalisation. Heavy imports happen in
:func:`run` so that building the ``qhybrid`` parser stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from qhybrid._tables import render_table

GRAPHS = ("regular", "erdos", "cycle", "complete")
MOLECULES = ("h2", "lih")
MODELS = ("tfim", "heisenberg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``solve`` sub-commands (``maxcut``, ``qubo``, ``vqe``) to ``parser``."""
    sub = parser.add_subparsers(dest="problem", metavar="PROBLEM", required=True)

    def common(p: argparse.ArgumentParser, optimizer: str, maxiter: int) -> None:
        p.add_argument("--backend", default="aer", help="backend name (qhybrid info lists them; default aer)")
        p.add_argument("--shots", type=int, default=None, help="samples per circuit (default: exact)")
        p.add_argument("--optimizer", default=optimizer, choices=("adam", "spsa", "cobyla"))
        p.add_argument(
            "--maxiter", type=int, default=maxiter, help="optimiser iterations (per depth for QAOA)"
        )
        p.add_argument(
            "--stepsize", type=float, default=None, help="learning rate / SPSA gain / COBYLA radius"
        )
        p.add_argument("--seed", type=int, default=0, help="seed of the problem, solvers and sampling")
        p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")

    def qaoa_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--p", type=int, default=2, help="QAOA depth (default 2)")
        p.add_argument("--init", default="interp", choices=("fixed", "random", "interp"))
        p.add_argument("--sa-sweeps", type=int, default=500, help="simulated annealing sweeps")

    m = sub.add_parser("maxcut", help="MaxCut: QAOA vs brute force, simulated annealing, Goemans-Williamson")
    m.add_argument(
        "--graph", default="regular", help=f"one of {', '.join(GRAPHS)}, or an edge-list file 'u v [w]'"
    )
    m.add_argument("--nodes", type=int, default=10, help="nodes of a generated graph (default 10)")
    m.add_argument("--degree", type=int, default=3, help="degree of a random regular graph (default 3)")
    m.add_argument("--edge-prob", type=float, default=0.5, help="edge probability of an Erdos-Renyi graph")
    m.add_argument(
        "--weighted", action="store_true", help="random integer weights 1..4 (files: use column 3)"
    )
    qaoa_options(m)
    common(m, "cobyla", 100)

    q = sub.add_parser("qubo", help="QUBO min x^T Q x: QAOA vs brute force and simulated annealing")
    q.add_argument(
        "--matrix", default=None, help="symmetric Q as .npy, or text (.csv / whitespace); default random"
    )
    q.add_argument("--size", type=int, default=8, help="variables of the random QUBO (default 8)")
    qaoa_options(q)
    common(q, "cobyla", 100)

    v = sub.add_parser("vqe", help="ground-state energy: VQE vs Hartree-Fock and exact diagonalisation")
    v.add_argument(
        "--molecule",
        choices=MOLECULES,
        default=None,
        help="molecule in STO-3G (default h2, 4 qubits); lih is a 6-qubit active space (2 electrons in 3 "
        "orbitals), not the full 12-qubit Hamiltonian",
    )
    v.add_argument("--bond", type=float, default=None, help="bond length in angstrom (default: equilibrium)")
    v.add_argument("--model", choices=MODELS, default=None, help="spin chain instead of a molecule")
    v.add_argument("--sites", type=int, default=6, help="spin-chain sites (default 6)")
    v.add_argument("--field", type=float, default=1.0, help="transverse field h of the TFIM (default 1)")
    v.add_argument(
        "--ansatz", default=None, help="uccsd, doubles or hardware_efficient (default: per problem)"
    )
    v.add_argument("--layers", type=int, default=3, help="hardware-efficient layers (default 3)")
    common(v, "cobyla", 200)


def _graph(args):
    import networkx as nx
    import numpy as np

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


def _qubo_matrix(args):
    import numpy as np

    if args.matrix is None:
        if args.size < 1:
            raise ValueError(f"--size must be >= 1, got {args.size}")
        a = np.random.default_rng(args.seed).normal(size=(args.size, args.size))
        return (a + a.T) / 2, f"random QUBO, {args.size} variables"
    path = Path(args.matrix)
    if not path.exists():
        raise FileNotFoundError(f"--matrix file {args.matrix!r} not found")
    q = _read_matrix(path)
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] < 1:
        raise ValueError(f"--matrix {args.matrix!r}: Q must be a square matrix, got shape {q.shape}")
    if not np.isfinite(q).all():
        raise ValueError(f"--matrix {args.matrix!r}: Q holds NaN or infinite entries")
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
    return np.atleast_2d(q).astype(float)


def _row(method, value, quality, evaluations, seconds, note="") -> dict:
    return {
        "method": method,
        "value": value,
        "quality": quality,
        "evaluations": evaluations,
        "time_s": seconds,
        "note": note,
    }


def _binary(args, problem, kind: str, classical_graph=None, qubo=None) -> list[dict]:
    from qhybrid.classical import solvers as cs
    from qhybrid.qml.solvers import QAOA

    res = QAOA(
        p=args.p,
        optimizer=args.optimizer,
        init=args.init,
        backend=args.backend,
        shots=args.shots,
        seed=args.seed,
        maxiter=args.maxiter,
        stepsize=args.stepsize,
    ).solve(problem)
    note = f"expected {'cut' if kind == 'maxcut' else 'value'} {res.expected_cost:.3f}"
    if res.expected_ratio is not None:
        note += f", expected ratio {res.expected_ratio:.3f}"
    rows = [
        _row(
            f"QAOA p={args.p} ({args.backend}, {args.optimizer})",
            res.cost,
            res.approximation_ratio,
            res.n_evaluations,
            res.wall_time,
            note,
        )
    ]
    n = problem.n_qubits
    exact = None
    if n <= cs.MAX_ENUMERATION_QUBITS:
        bf = cs.brute_force_maxcut(classical_graph) if kind == "maxcut" else cs.brute_force_qubo(qubo)
        exact = bf.value
        rows.append(_row("brute force", bf.value, 1.0, bf.evaluations, bf.wall_time, "exact optimum"))
    if kind == "maxcut":
        sa = cs.simulated_annealing_maxcut(classical_graph, random_state=args.seed, n_sweeps=args.sa_sweeps)
        rows.append(_row("simulated annealing", sa.value, None, sa.evaluations, sa.wall_time, "flips tried"))
        try:
            gw = cs.goemans_williamson(classical_graph, random_state=args.seed)
        except ImportError as exc:  # cvxpy is the optional `solvers` extra: the table goes on without it
            if exc.name != "cvxpy":
                raise
            print(f"qhybrid: Goemans-Williamson row skipped: {exc}", file=sys.stderr)
        else:
            rows.append(
                _row(
                    "Goemans-Williamson",
                    gw.value,
                    None,
                    gw.evaluations,
                    gw.wall_time,
                    f"SDP bound {gw.bound:.3f}",
                )
            )
    else:
        sa = cs.simulated_annealing_qubo(qubo, random_state=args.seed, n_sweeps=args.sa_sweeps)
        rows.append(_row("simulated annealing", sa.value, None, sa.evaluations, sa.wall_time, "flips tried"))
    if exact is not None and problem.is_enumerable():
        for r in rows[2:]:
            r["quality"] = problem.approximation_ratio(-r["value"] if kind == "maxcut" else r["value"])
    return rows


def _vqe(args) -> tuple[list[dict], str, str]:
    import numpy as np

    from qhybrid.classical import solvers as cs
    from qhybrid.qml.solvers import VQE, h2, heisenberg, lih, transverse_field_ising

    if args.model is not None and args.molecule is not None:
        raise ValueError("give either --molecule or --model, not both")
    if args.model is None:
        mol = args.molecule or "h2"
        problem = (h2 if mol == "h2" else lih)(*(() if args.bond is None else (args.bond,)))
        ansatz = args.ansatz or "uccsd"
    else:
        if args.model == "tfim":
            problem = transverse_field_ising(args.sites, h=args.field)
        else:
            problem = heisenberg(args.sites)
        ansatz = args.ansatz or "hardware_efficient"
    res = VQE(
        ansatz,
        n_layers=args.layers,
        optimizer=args.optimizer,
        backend=args.backend,
        shots=args.shots,
        seed=args.seed,
        maxiter=args.maxiter,
        stepsize=args.stepsize,
    ).solve(problem)
    rows = [
        _row(
            f"VQE {ansatz} ({args.backend}, {args.optimizer})",
            res.energy,
            None,
            res.n_evaluations,
            res.wall_time,
            f"{res.n_params} parameters",
        )
    ]
    matrix = problem.sparse_matrix()
    if problem.hf_state is not None:
        index = int("".join(str(b) for b in problem.hf_state), 2)
        rows.append(
            _row("Hartree-Fock", float(np.real(matrix[index, index])), None, 1, 0.0, "reference state")
        )
    ed = cs.exact_diagonalization(matrix)
    rows.append(_row("exact diagonalisation", ed.energy, None, None, ed.wall_time, "ground state"))
    chemistry = problem.hf_state is not None
    for r in rows:
        r["quality"] = (r["value"] - ed.energy) * (1e3 if chemistry else 1.0)
        if r["method"].startswith("VQE") and chemistry and abs(r["quality"]) < 1.6:
            r["note"] += ", within chemical accuracy"
    return rows, f"{problem.name}, {problem.n_qubits} qubits", "error (mHa)" if chemistry else "error"


def _fmt(value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return str(value)


def _print_table(title: str, quality_name: str, rows: list[dict]) -> None:
    headers = ["method", "value", quality_name, "evaluations", "time (s)", "note"]
    cells = [
        [
            r["method"],
            _fmt(r["value"], 6),
            _fmt(r["quality"], 4),
            _fmt(r["evaluations"], 0),
            _fmt(r["time_s"], 3),
            r["note"],
        ]
        for r in rows
    ]
    print(title)
    print(render_table(headers, cells, numeric=headers[1:5]))


# option -> smallest allowed value, for the integer options each sub-command may have
_MIN_INT = {"maxiter": 1, "seed": 0, "shots": 1, "p": 1, "sa_sweeps": 1, "nodes": 2, "sites": 2, "layers": 1}


def _check_numbers(args: argparse.Namespace) -> None:
    """Ranges of the numeric options, before any solver runs."""
    for name, low in _MIN_INT.items():
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
    for name in ("stepsize", "bond", "field", "edge_prob"):
        value = getattr(args, name, None)
        if value is not None and not math.isfinite(value):
            raise ValueError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    for name in ("stepsize", "bond"):
        value = getattr(args, name, None)
        if value is not None and value <= 0:
            raise ValueError(f"--{name} must be > 0, got {value}")


def run(args: argparse.Namespace) -> int:
    """Run the chosen problem's quantum solver and classical references; print one table. Returns 0."""
    from qhybrid.qml.solvers import QUBO, MaxCut

    _check_numbers(args)
    if args.problem == "maxcut":
        graph, title = _graph(args)
        problem = MaxCut(graph, weight="weight")
        rows = _binary(args, problem, "maxcut", classical_graph=graph)
        quality = "ratio"
    elif args.problem == "qubo":
        q, title = _qubo_matrix(args)
        problem = QUBO(q)
        rows = _binary(args, problem, "qubo", qubo=problem.matrix)
        quality = "ratio"
    else:
        rows, title, quality = _vqe(args)
    if args.json:
        print(json.dumps({"problem": args.problem, "title": title, "rows": rows}, indent=2))
    else:
        _print_table(f"{args.problem}: {title}", quality, rows)
    return 0
