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
:func:`run` so that building the ``qhybrid`` parser stays fast; the help reads the backends, optimisers,
QAOA initialisations and VQE ansätze from ``qml`` only when it is printed (:mod:`hybrid.cli_help`).
The problem of a command line (a generated graph, an edge-list or matrix file) is built by
:mod:`hybrid.solve_inputs`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from qhybrid._tables import render_table
from qhybrid.hybrid.cli_help import RegistryHelpFormatter
from qhybrid.hybrid.solve_flags import resolve_mode_flags
from qhybrid.hybrid.solve_inputs import GRAPHS, build_graph, build_qubo

#: ``--molecule`` names: (builder of ``qml.solvers`` and its arguments, default bond length in angstrom).
MOLECULES = {
    "h2": ("h2", {}),
    "lih": ("lih", {}),
    "lih-full": ("lih", {"active_electrons": None, "active_orbitals": None}),
    "heh+": ("heh_plus", {}),
    "h3+": ("h3_plus", {}),
}
MODELS = ("tfim", "heisenberg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``solve`` sub-commands (``maxcut``, ``qubo``, ``vqe``) to ``parser``."""
    sub = parser.add_subparsers(dest="problem", metavar="PROBLEM", required=True)

    def common(p: argparse.ArgumentParser, optimizer: str | None, maxiter: int) -> None:
        p.add_argument(
            "--backend",
            default="auto",
            help="one of %(backends)s (default %(default)s: the torch engine, aer.shots with --shots)",
        )
        p.add_argument("--shots", type=int, default=None, help="samples per circuit (default: exact)")
        default = optimizer or "lbfgs, cobyla with --shots"
        p.add_argument("--optimizer", default=optimizer, help=f"one of %(optimizers)s (default {default})")
        p.add_argument(
            "--maxiter", type=int, default=maxiter, help="optimiser iterations (per depth for QAOA)"
        )
        p.add_argument(
            "--stepsize", type=float, default=None, help="learning rate / SPSA gain / COBYLA radius"
        )
        p.add_argument("--seed", type=int, default=0, help="seed of the problem, solvers and sampling")
        p.add_argument(
            "--max-qubits", type=int, default=20, help="widest problem the solver simulates (default 20)"
        )
        p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")

    def qaoa_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--p", type=int, default=2, help="QAOA depth (default 2)")
        p.add_argument(
            "--init", default="interp", help="starting angles: one of %(qaoa_inits)s (default %(default)s)"
        )
        p.add_argument("--sa-sweeps", type=int, default=500, help="simulated annealing sweeps")

    def problem(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=RegistryHelpFormatter)

    m = problem("maxcut", "MaxCut: QAOA vs brute force, simulated annealing, Goemans-Williamson")
    m.add_argument(
        "--graph", default="regular", help=f"one of {', '.join(GRAPHS)}, or an edge-list file 'u v [w]'"
    )
    m.add_argument("--nodes", type=int, default=None, help="nodes of a generated graph (default 10)")
    m.add_argument("--degree", type=int, default=None, help="degree of a random regular graph (default 3)")
    m.add_argument(
        "--edge-prob", type=float, default=None, help="edge probability of an Erdos-Renyi graph (default 0.5)"
    )
    m.add_argument(
        "--weighted", action="store_true", help="random integer weights 1..4 (files: use column 3)"
    )
    qaoa_options(m)
    common(m, "cobyla", 100)

    q = problem("qubo", "QUBO min x^T Q x: QAOA vs brute force and simulated annealing")
    q.add_argument(
        "--matrix", default=None, help="symmetric Q as .npy, or text (.csv / whitespace); default random"
    )
    q.add_argument("--size", type=int, default=None, help="variables of the random QUBO (default 8)")
    qaoa_options(q)
    common(q, "cobyla", 100)

    v = problem("vqe", "ground-state energy: VQE vs Hartree-Fock and exact diagonalisation")
    v.add_argument(
        "--molecule",
        choices=list(MOLECULES),
        default=None,
        help="molecule in STO-3G (default h2, 4 qubits); lih is a 6-qubit active space (2 electrons in 3 "
        "orbitals), lih-full all 4 electrons on 12 qubits; heh+ and h3+ are cations (4 and 6 qubits)",
    )
    v.add_argument("--bond", type=float, default=None, help="bond length in angstrom (default: equilibrium)")
    v.add_argument("--model", choices=MODELS, default=None, help="spin chain instead of a molecule")
    v.add_argument("--sites", type=int, default=None, help="spin-chain sites (default 6)")
    v.add_argument("--field", type=float, default=None, help="transverse field h of the TFIM (default 1)")
    v.add_argument(
        "--ansatz",
        default=None,
        help="one of %(vqe_ansatze)s (default: uccsd for molecules, hardware_efficient for spin chains)",
    )
    v.add_argument("--layers", type=int, default=None, help="hardware-efficient layers (default 3)")
    common(v, None, 200)


def _row(method, value, quality, evaluations, seconds, note="") -> dict:
    return {
        "method": method,
        "value": value,
        "quality": quality,
        "evaluations": evaluations,
        "time_s": seconds,
        "note": note,
    }


def _qaoa(args):
    """The QAOA of the command line, built (and its options checked) before any problem is."""
    from qhybrid.qml.solvers import QAOA

    return QAOA(
        p=args.p,
        optimizer=args.optimizer,
        init=args.init,
        backend=args.backend,
        shots=args.shots,
        seed=args.seed,
        maxiter=args.maxiter,
        stepsize=args.stepsize,
        max_qubits=args.max_qubits,
    )


def _binary(args, qaoa, problem, kind: str, graph=None) -> list[dict]:
    """QAOA's row, then the classical references' on the same problem: ``graph`` for MaxCut, else the
    QUBO's matrix and offset (plain arrays)."""
    from qhybrid.classical import solvers as cs

    res = qaoa.solve(problem)
    note = f"expected {'cut' if kind == 'maxcut' else 'value'} {res.expected_cost:.3f}"
    if res.expected_ratio is not None:
        note += f", expected ratio {res.expected_ratio:.3f}"
    note += ", converged" if res.converged else f", not converged in {args.maxiter} iterations"
    rows = [
        _row(
            f"QAOA p={args.p} ({res.backend}, {res.optimizer})",
            res.cost,
            res.approximation_ratio,
            res.n_evaluations,
            res.wall_time,
            note,
        )
    ]
    if problem.is_enumerable():  # the limit brute force shares (classical.problems)
        if kind == "maxcut":
            bf = cs.brute_force_maxcut(graph)
        else:
            bf = cs.brute_force_qubo(problem.matrix, problem.offset)
        rows.append(_row("brute force", bf.value, 1.0, bf.evaluations, bf.wall_time, "exact optimum"))
    if kind == "maxcut":
        sa = cs.simulated_annealing_maxcut(graph, random_state=args.seed, n_sweeps=args.sa_sweeps)
        rows.append(_row("simulated annealing", sa.value, None, sa.evaluations, sa.wall_time, "flips tried"))
        try:
            gw = cs.goemans_williamson(graph, random_state=args.seed)
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
        sa = cs.simulated_annealing_qubo(
            problem.matrix, problem.offset, random_state=args.seed, n_sweeps=args.sa_sweeps
        )
        rows.append(_row("simulated annealing", sa.value, None, sa.evaluations, sa.wall_time, "flips tried"))
    if problem.is_enumerable():
        for r in rows[2:]:
            r["quality"] = problem.approximation_ratio(-r["value"] if kind == "maxcut" else r["value"])
    return rows


def _vqe(args) -> tuple[list[dict], str, str]:
    from qhybrid.classical import solvers as cs
    from qhybrid.qml import solvers
    from qhybrid.qml.solvers import VQE, heisenberg, transverse_field_ising

    if args.model is not None and args.molecule is not None:
        raise ValueError("give either --molecule or --model, not both")
    ansatz = args.ansatz or ("uccsd" if args.model is None else "hardware_efficient")
    vqe = VQE(  # its options are checked before the Hamiltonian is built
        ansatz,
        n_layers=args.layers,
        optimizer=args.optimizer,
        backend=args.backend,
        shots=args.shots,
        seed=args.seed,
        maxiter=args.maxiter,
        stepsize=args.stepsize,
        max_qubits=args.max_qubits,
    )
    if args.model is None:
        builder, options = MOLECULES[args.molecule or "h2"]
        bond = {} if args.bond is None else {"bond_length": args.bond}
        problem = getattr(solvers, builder)(**bond, **options)
    elif args.model == "tfim":
        problem = transverse_field_ising(args.sites, h=args.field)
    else:
        problem = heisenberg(args.sites)
    res = vqe.solve(problem)
    status = "converged" if res.converged else f"not converged in {args.maxiter} iterations"
    rows = [
        _row(
            f"VQE {ansatz} ({res.backend}, {res.optimizer})",
            res.energy,
            None,
            res.n_evaluations,
            res.wall_time,
            f"{res.n_params} parameters, {status}",
        )
    ]
    chemistry = problem.hf_state is not None
    if chemistry:
        rows.append(_row("Hartree-Fock", problem.hf_energy(), None, 1, 0.0, "reference state"))
        start = time.perf_counter()
        exact = problem.exact_energy()
        sector = f"{problem.n_electrons} electrons, multiplicity {problem.multiplicity}"
        rows.append(_row("exact diagonalisation", exact, None, None, time.perf_counter() - start, sector))
    else:
        ed = cs.exact_diagonalization(problem.sparse_matrix())
        exact = ed.energy
        rows.append(_row("exact diagonalisation", exact, None, None, ed.wall_time, "ground state"))
    for r in rows:
        r["quality"] = (r["value"] - exact) * (1e3 if chemistry else 1.0)
        if r["method"].startswith("VQE") and chemistry and abs(r["quality"]) < 1.6:
            r["note"] += ", within chemical accuracy"
    return rows, f"{problem.name}, {problem.n_qubits} qubits", "error (mHa)" if chemistry else "error"


def _fmt(value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return str(value)


def print_table(title: str, quality_name: str, rows: list[dict]) -> None:
    """Print ``title`` and the rows of a solve command (``method``, ``value``, ``quality``, ``evaluations``,
    ``time_s``, ``note``) as one table, numbers right-aligned, ``None`` shown as ``-``."""
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
_MIN_INT = {
    "max_qubits": 1,
    "maxiter": 1,
    "shots": 1,
    "p": 1,
    "sa_sweeps": 1,
    "nodes": 2,
    "sites": 2,
    "layers": 1,
}


def _check_numbers(args: argparse.Namespace) -> None:
    """Ranges of the numeric options, before any solver runs."""
    from qhybrid.classical.validation import MAX_SEED

    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed must be in 0..{MAX_SEED}, got {seed}")
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

    resolve_mode_flags(args)
    _check_numbers(args)
    if args.problem == "maxcut":
        qaoa = _qaoa(args)
        graph, title = build_graph(args)
        rows = _binary(args, qaoa, MaxCut(graph, weight="weight"), "maxcut", graph)
        quality = "ratio"
    elif args.problem == "qubo":
        qaoa = _qaoa(args)
        q, title = build_qubo(args)
        rows = _binary(args, qaoa, QUBO(q), "qubo")
        quality = "ratio"
    else:
        rows, title, quality = _vqe(args)
    if args.json:
        print(json.dumps({"problem": args.problem, "title": title, "rows": rows}, indent=2))
    else:
        print_table(f"{args.problem}: {title}", quality, rows)
    return 0
