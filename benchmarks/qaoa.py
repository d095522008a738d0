"""QAOA MaxCut on random 3-regular graphs: our Aer path, default.qubit and the stock qiskit.aer plugin,
beside brute force, simulated annealing and Goemans-Williamson, in one run.

For each size n (8, 12, 16; ``--quick``: 8, 12) one graph is drawn and solved by

* QAOA depths p = 1..P (INTERP: each depth starts from the interpolated angles of the previous one;
  COBYLA, at most ``--maxiter`` evaluations per depth) on ``auto`` (the solvers' default: the torch engine,
  no QNode), on ``aer`` and on ``default``;
* brute force, simulated annealing and Goemans-Williamson (``classical.solvers``).

The table gives the expected approximation ratio <C>/C_max of each QAOA depth, the ratio of the best sampled
bitstring, circuit evaluations and wall time. The stock ``qiskit.aer`` plugin (pennylane-qiskit, statevector,
exact) transpiles every circuit and is only timed at n=8, p=1 with the same capped COBYLA run as ``aer``.

Last line: ``RESULT qaoa_speedup_vs_plugin=<x> qaoa_best_ratio_n12=<y>`` where x is the plugin's time per
energy evaluation divided by ours (n=8, p=1) and y the best expected ratio <C>/C_max over depths on ``aer``
at n=12. Timings on a shared machine are noisy; ratios from one run are what to compare.

    python benchmarks/qaoa.py --quick
"""

from __future__ import annotations

import argparse
import time
import warnings

from qhybrid import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pennylane as qp  # noqa: E402
import scipy.optimize  # noqa: E402

from qhybrid._extras import stock_plugin_missing  # noqa: E402
from qhybrid.classical import solvers as cs  # noqa: E402
from qhybrid.qml.backends import make_device  # noqa: E402
from qhybrid.qml.solvers import QAOA, MaxCut, linear_ramp, qaoa_circuit  # noqa: E402


def _row(n, method, p, exp_ratio, best_ratio, evals, seconds):
    return {
        "n": n,
        "method": method,
        "p": p,
        "expected_ratio": exp_ratio,
        "best_ratio": best_ratio,
        "evaluations": evals,
        "time_s": seconds,
    }


def _print(rows):
    head = f"{'n':>3}  {'method':<22} {'p':>2}  {'<C>/Cmax':>9}  {'best/Cmax':>9}  {'circuits':>8}  {'time s':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        er = "-" if r["expected_ratio"] is None else f"{r['expected_ratio']:.4f}"
        br = "-" if r["best_ratio"] is None else f"{r['best_ratio']:.4f}"
        ev = "-" if r["evaluations"] is None else str(r["evaluations"])
        print(f"{r['n']:>3}  {r['method']:<22} {r['p']:>2}  {er:>9}  {br:>9}  {ev:>8}  {r['time_s']:>8.3f}")


def classical_rows(graph, n, opt, seed):
    bf = cs.brute_force_maxcut(graph)
    sa = cs.simulated_annealing_maxcut(graph, random_state=seed)
    rows = [
        _row(n, "brute force", "-", None, bf.value / opt, bf.evaluations, bf.wall_time),
        _row(n, "simulated annealing", "-", None, sa.value / opt, None, sa.wall_time),
    ]
    try:
        gw = cs.goemans_williamson(graph, random_state=seed)
    except ImportError as exc:  # cvxpy is the optional `solvers` extra
        if exc.name != "cvxpy":
            raise
        print(f"  Goemans-Williamson row skipped: {exc}")
        return rows
    rows.append(
        _row(
            n,
            "Goemans-Williamson",
            "-",
            gw.extra["mean_rounded_cut"] / opt,
            gw.value / opt,
            None,
            gw.wall_time,
        )
    )
    return rows


def qaoa_rows(problem, n, backend, depth, maxiter, seed):
    res = QAOA(p=depth, init="interp", optimizer="cobyla", backend=backend, seed=seed, maxiter=maxiter).solve(
        problem
    )
    rows = []
    for d in res.depths:
        best = res.approximation_ratio if d.p == depth else None
        rows.append(
            _row(
                n,
                f"QAOA {backend}" + (f" ({res.backend})" if res.backend != backend else ""),
                d.p,
                d.expected_ratio,
                best,
                d.n_evaluations,
                d.wall_time,
            )
        )
    return rows, res


def capped_p1(problem, dev, n_evals):
    """COBYLA on the p=1 energy, stopped after ``n_evals`` evaluations; (seconds, evaluations, ratio)."""
    apply = qaoa_circuit(problem)
    hamiltonian = problem.cost_hamiltonian()

    @qp.qnode(dev, diff_method=None)
    def energy(x):
        apply(x, 1)
        return qp.expval(hamiltonian)

    count = 0

    def cost(x):
        nonlocal count
        count += 1
        return float(energy(x))

    t0 = time.perf_counter()
    res = scipy.optimize.minimize(
        cost, np.concatenate(linear_ramp(1)), method="COBYLA", options={"maxiter": n_evals, "rhobeg": 0.3}
    )
    seconds = time.perf_counter() - t0
    return seconds, count, problem.approximation_ratio(float(res.fun))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 8, 12 (about a minute)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="graph sizes (default 8 12 16)")
    parser.add_argument("--depth", type=int, default=3, help="largest QAOA depth (default 3)")
    parser.add_argument(
        "--maxiter", type=int, default=None, help="COBYLA evaluations per depth (default 60, quick 40)"
    )
    parser.add_argument(
        "--plugin-evals", type=int, default=10, help="evaluation cap of the plugin timing run"
    )
    parser.add_argument("--no-plugin", action="store_true", help="skip the qiskit.aer plugin")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = args.sizes or ([8, 12] if args.quick else [8, 12, 16])
    maxiter = args.maxiter or (40 if args.quick else 60)
    backends = ("auto", "aer", "default")  # auto: the torch engine (no QNode)

    print(
        f"QAOA MaxCut, random 3-regular graphs n={sizes}, p=1..{args.depth} INTERP, COBYLA <= {maxiter} evals/depth"
    )
    rows, best_ratio_n12 = [], None
    for n in sizes:
        graph = nx.random_regular_graph(3, n, seed=args.seed + n)
        problem = MaxCut(graph)
        opt = problem.optimum()
        for backend in backends:
            r, res = qaoa_rows(problem, n, backend, args.depth, maxiter, args.seed)
            rows += r
            if backend == "aer" and n == 12:
                best_ratio_n12 = max(d.expected_ratio for d in res.depths)
        rows += classical_rows(graph, n, opt, args.seed)
    _print(rows)

    # Per-evaluation speed against the stock plugin: same capped p=1 run at n=8 on every simulator.
    n = 8
    problem = MaxCut(nx.random_regular_graph(3, n, seed=args.seed + n))
    print(
        f"\nper-evaluation speed, n={n}, p=1, COBYLA capped at {args.plugin_evals} evaluations (after one warm-up)"
    )
    devices = {"aer": lambda: make_device("aer", n), "default": lambda: make_device("default", n)}
    if not args.no_plugin:
        plugin_missing = stock_plugin_missing("the stock qiskit.aer plugin row")
        if plugin_missing:  # pennylane-qiskit is the optional `bench` extra: report and go on
            print(f"  {plugin_missing}")
        else:
            devices["qiskit.aer plugin"] = lambda: qp.device(
                "qiskit.aer", wires=n, method="statevector", shots=None
            )
    per_eval = {}
    for name, factory in devices.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dev = factory()
            capped_p1(problem, dev, 1)  # warm-up: imports, first compilation
            seconds, count, ratio = capped_p1(problem, dev, args.plugin_evals)
        per_eval[name] = seconds / count
        print(
            f"  {name:<18} {count:>3} evals  {seconds:8.3f} s  {1e3 * seconds / count:9.2f} ms/eval  <C>/Cmax {ratio:.4f}"
        )
    speedup = per_eval.get("qiskit.aer plugin", float("nan")) / per_eval["aer"]
    print(
        f"  plugin / aer time per evaluation: {speedup:.1f}x; default / aer: {per_eval['default'] / per_eval['aer']:.2f}x"
    )
    ratio_text = "nan" if best_ratio_n12 is None else f"{best_ratio_n12:.4f}"
    print(f"RESULT qaoa_speedup_vs_plugin={speedup:.1f} qaoa_best_ratio_n12={ratio_text}")


if __name__ == "__main__":
    main()
