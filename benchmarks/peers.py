"""qhybrid against the simulators people pick for training speed, each in its own process, interleaved.

The job of ``benchmarks/regimes.py``: a QuantumLayer forward + backward (angle embedding + 2 strongly
entangling layers, ``<Z_i>`` of every wire, loss = sum of the outputs, gradient of the weights), and the QAOA
MaxCut energy + gradient (3-regular graph on 16 nodes, seed 0, p = 2); under noise (``noise`` cells), the
same layer with Qiskit's depolarising error after every gate (1 % one-qubit, 3 % two-qubit), and under thermal
relaxation (``relax`` cells: T1 = 5 us, T2 = 4 us over 50/300 ns gates; :data:`NOISE`).
Contenders:

* qhybrid ``torch`` (the fused statevector engine) and ``aer``; PennyLane's ``default.qubit`` (backprop) and
  ``lightning.qubit`` (adjoint): in qhybrid's virtualenv;
* TensorCircuit-NG (jax ``jit`` + ``vmap`` + ``value_and_grad``, complex128; ``DMCircuit`` for noise),
  Catalyst (``qml.qjit`` on lightning.qubit, adjoint) and qulacs (``backprop``): each in its own virtualenv
  under ``--peers-dir`` (default ``.peers/``), which ``--setup`` creates with pip (``torch==2.13.0`` where
  torch is needed);
* noise cells: qhybrid ``torch`` is the density engine (``torch.density``), ``aer`` is ``aer.density``,
  and ``default.mixed`` (backprop) runs the same channels written into the circuit.

Every contender runs the same circuit on the same inputs and weights; its first call (JIT compile included)
is timed, and its values and gradient are checked against ``default.qubit`` (noise: ``aer``, as
default.mixed applies diagonal gates in single precision) to 1e-8 before any timing; a
contender that disagrees is dropped from the cell with the difference printed. Then ``--repeats`` rounds,
each timing every contender once in a rotated order: a burst of back-to-back calls lasting about 50 ms
(as a training loop makes them), its time per call. A contender whose first call took longer than
``--budget`` seconds gets one warm call timed and no repeats. Per cell: the median step with
its spread (min-max), the first call, and the time to train 1000 steps (first call + 999 steps).

The last line: ``RESULT step_worst=.. step_worst_small=.. step_worst_wide=.. train1000_worst=..
qaoa=.. limit_ratio_12x32=..``: qhybrid's best (``torch``) over the best peer per step, at every cell, at 4-12
qubits and at 16-20; over every peer's time to 1000 steps; on QAOA; and our 12 x 32 step over the arithmetic
estimate (gates x passes x one measured streaming pass over the ``(2**12, 32)`` state, three passes: the
forward, then the state and its cotangent back); then ``noise_tc_worst=.. noise_mixed_worst=..
noise_train1000_worst=..``: ``torch.density`` over TensorCircuit-NG and over default.mixed per step, and over
every peer's time to 1000 steps, the worst noise or relax cell.

    python benchmarks/peers.py --setup --quick        # create the peers' venvs (once, minutes), then run
    python benchmarks/peers.py --threads 2 --cells exact:12:32,qaoa:16:1
    python benchmarks/peers.py --regimes noise,relax          # the noisy cells only
    python benchmarks/peers.py                        # every cell (compiles alone take ~15 min)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKERS = HERE / "peer_workers"
OURS = ("torch", "aer")
#: contender -> (virtualenv under --peers-dir, or None for qhybrid's own; worker script)
CONTENDERS = {
    "torch": (None, "qhybrid_worker.py"),
    "aer": (None, "qhybrid_worker.py"),
    "default.qubit": (None, "qhybrid_worker.py"),
    "default.mixed": (None, "qhybrid_worker.py"),
    "lightning.qubit": (None, "qhybrid_worker.py"),
    "tensorcircuit": ("tc", "tc_worker.py"),
    "catalyst": ("pl", "catalyst_worker.py"),
    "qulacs": ("qulacs", "qulacs_worker.py"),
}
#: what --setup installs in each peer venv (by package name; CPU torch where torch is needed)
VENVS = {
    "tc": ["tensorcircuit-ng==1.10.0", "jax[cpu]==0.10.2"],
    "pl": ["torch==2.13.0", "pennylane==0.45.1", "pennylane-lightning==0.45.0", "pennylane-catalyst==0.15.0"],
    "qulacs": ["qulacs==0.6.14", "numpy"],
}
CELLS = [f"exact:{n}:{b}" for n in (4, 8, 12, 16) for b in (8, 32)] + ["exact:20:8", "qaoa:16:1"]
CELLS += [
    "noise:4:8",
    "noise:4:32",
    "noise:8:8",
    "noise:8:32",
    "noise:10:8",
    "noise:12:8",
    "relax:4:8",
    "relax:8:8",
]
#: each noisy regime's Aer noise model (a NoiseSpec): depolarising after every one- and two-qubit gate, or
#: thermal relaxation over the gate's time (T1 = 5 us, T2 = 4 us, 50 and 300 ns gates)
NOISE = {
    "noise": {"depolarizing_1q": 0.01, "depolarizing_2q": 0.03},
    "relax": {"t1": 5e-6, "t2": 4e-6, "gate_time_1q": 50e-9, "gate_time_2q": 300e-9},
}
#: the widest cell each contender runs, by name or (name, regime): default.mixed took 80 s a step at 8 x 32 (10
#: qubits would be hours); aer.density ran for minutes a step at 10 and is estimated at 250-800 s at 12 (then the next
#: contender, qhybrid's torch, is the reference its peers are checked against)
MAX_QUBITS = {"default.mixed": 8, ("aer", "noise"): 8, ("aer", "relax"): 8}
#: the contender every other one is checked against, per regime (default.mixed applies RZ in single precision)
REFERENCE = {"exact": "default.qubit", "qaoa": "default.qubit", "noise": "aer", "relax": "aer"}
QUICK = ["exact:4:8", "exact:8:32", "exact:12:32", "qaoa:16:1"]
TOL = 1e-8
#: default.mixed applies diagonal gates (RZ) in single precision: its noise cells agree to about 4e-7
LOOSE = {"default.mixed": 1e-6}
#: Each timed sample is a burst of back-to-back calls lasting about this long (one call where a call is
#: longer): single calls after the worker slept on its pipe ran 1.5x slower for small circuits, and no
#: training loop sleeps between steps.
BURST_S = 0.05
N_LAYERS, QAOA_P, SEED = 2, 2, 0


@dataclass
class Result:
    name: str
    first: float | None = None
    times: list[float] = field(default_factory=list)
    why: str | None = None

    @property
    def step(self) -> float | None:
        if self.why is not None:
            return None
        return statistics.median(self.times) if self.times else None

    @property
    def train1000(self) -> float | None:
        return None if self.step is None else self.first + 999 * self.step


class Worker:
    def __init__(self, python: str, script: str, env: dict):
        self.proc = subprocess.Popen(
            [python, str(WORKERS / script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )

    def ask(self, msg: dict) -> dict:
        # Only the contender being asked may run: the others are stopped (SIGSTOP), since an idle runtime's
        # threads kept spinning on the shared cores (beside an idle JAX worker, torch's 4 x 8 step ran 1.5x
        # slower).
        os.kill(self.proc.pid, signal.SIGCONT)
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        finally:
            os.kill(self.proc.pid, signal.SIGSTOP)
        if not line:
            raise RuntimeError("worker exited")
        return json.loads(line)

    def close(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def thread_env(threads: int) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_WAIT_POLICY="PASSIVE")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "QULACS_NUM_THREADS"):
        env[var] = str(threads)
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" if threads == 1 else ""
    env["XLA_FLAGS"] = flags
    return env


def python_of(venv: str | None, peers_dir: Path) -> Path:
    return Path(sys.executable) if venv is None else peers_dir / venv / "bin" / "python"


def setup_venvs(peers_dir: Path) -> None:
    for venv, packages in VENVS.items():
        python = peers_dir / venv / "bin" / "python"
        if python.exists():
            continue
        print(f"creating {python.parent.parent} ({', '.join(packages)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(peers_dir / venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)


def cell_spec(regime: str, n: int, batch: int) -> dict:
    """Inputs and weights as benchmarks/regimes.py makes them (QuantumLayer's seeded initial weights)."""
    import numpy as np
    import torch

    if regime == "qaoa":
        import networkx as nx

        from qhybrid.qml.solvers import MaxCut, linear_ramp

        problem = MaxCut(nx.random_regular_graph(3, n, seed=SEED))
        h, jm, _ = problem.to_ising()
        hamiltonian = problem.cost_hamiltonian()
        terms, const = [], 0.0
        for coeff, op in zip(hamiltonian.coeffs, hamiltonian.ops, strict=True):
            if op.name == "Identity":
                const += float(coeff)
            else:
                terms.append([float(coeff), [int(w) for w in op.wires]])
        zz = [[int(i), int(j), float(jm[i, j])] for i, j in zip(*np.nonzero(jm), strict=True)]
        return {
            "regime": "qaoa", "n": n, "p": QAOA_P, "params": np.concatenate(linear_ramp(QAOA_P)).tolist(),
            "zz": zz, "z": [[i, float(h[i])] for i in range(n) if h[i] != 0], "terms": terms, "const": const,
        }  # fmt: skip
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(batch, n, dtype=torch.float64, generator=generator) * 3.0
    w = torch.rand((N_LAYERS, n, 3), generator=torch.Generator().manual_seed(SEED), dtype=torch.float64)
    spec = {"regime": regime, "n": n, "batch": batch, "x": x.tolist(), "w": (w * 2 * np.pi).tolist()}
    return {**spec, "noise": NOISE[regime]} if regime in NOISE else spec


def arithmetic_estimate(n: int, batch: int, threads: int) -> float:
    """Seconds for gates x 3 passes at the measured rate of one streaming pass over the state (the fastest
    of 51: the rate the machine reaches, not its noise)."""
    import torch

    torch.set_num_threads(threads)
    state = torch.randn(2**n, batch, dtype=torch.complex128)
    phase = torch.randn(2**n, 1, dtype=torch.complex128)
    times = []
    for _ in range(51):
        start = time.perf_counter()
        state.mul_(phase)
        times.append(time.perf_counter() - start)
    gates = n + N_LAYERS * n * 2  # RX embedding, then per layer a Rot and a CNOT per wire
    return gates * 3 * min(times)


def run_cell(cell: str, workers: dict, names: list[str], args) -> dict[str, Result]:
    regime, n, batch = cell.split(":")[0], int(cell.split(":")[1]), int(cell.split(":")[2])
    spec = {**cell_spec(regime, n, batch), "device": args.device}
    results = {name: Result(name) for name in names}
    reference = None
    for name in sorted(names, key=lambda c: c != REFERENCE[regime]):  # the reference first
        cap = MAX_QUBITS.get((name, regime), MAX_QUBITS.get(name, n))
        if n > cap:
            results[name].why = f"wider than its {cap}-qubit cap (MAX_QUBITS)"
            continue
        answer = workers[name].ask({"cmd": "setup", "contender": name, "cell": spec})
        if not answer["ok"]:
            results[name].why = answer["why"]
            continue
        results[name].first = answer["first_s"]
        got = (answer["values"], answer["grad"])
        if reference is None:
            reference = got
            continue
        diffs = [
            max(abs(a - b) for a, b in zip(_flat(g), _flat(r), strict=True))
            for g, r in zip(got, reference, strict=True)
        ]
        if max(diffs) > LOOSE.get(name, TOL) * max(1.0, max(abs(v) for v in _flat(reference[1]))):
            results[name].why = f"disagrees with the reference by {max(diffs):.1e}"
    ready = [r.name for r in results.values() if r.why is None]
    calls = {}
    for name in ready:  # a burst of back-to-back calls lasting about BURST_S, as a training loop runs them
        one = workers[name].ask({"cmd": "time", "contender": name})["wall"]
        calls[name] = max(1, min(100, int(BURST_S / max(one, 1e-6))))
        if results[name].first > args.budget:  # its warm call stands alone: no repeats
            results[name].times.append(one)
    timed = [name for name in ready if results[name].first <= args.budget]
    for round_ in range(args.repeats):
        order = timed[round_ % max(len(timed), 1) :] + timed[: round_ % max(len(timed), 1)]
        for name in order:
            answer = workers[name].ask({"cmd": "time", "contender": name, "calls": calls[name]})
            results[name].times.append(answer["wall"])
    for name in names:
        workers[name].ask({"cmd": "drop", "contender": name})
    return results


def _flat(x) -> list[float]:
    return (
        [v for row in x for v in (_flat(row) if isinstance(row, list) else [row])]
        if isinstance(x, list)
        else [x]
    )


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def report(cell: str, results: dict[str, Result]) -> tuple[float | None, float | None, float | None]:
    """Print a cell; return torch's step over the best peer's, its worst 1000-step ratio, its step."""
    ours = results.get("torch")
    peers = [r for r in results.values() if r.name not in OURS and r.step is not None]
    best = min(peers, key=lambda r: r.step, default=None)
    print(f"\n{cell}")
    for r in results.values():
        if r.why is not None:
            print(f"  {r.name:16s} not run: {r.why}")
            continue
        spread = f"[{fmt(min(r.times))}-{fmt(max(r.times))}]" if r.times else "(first call only)"
        print(
            f"  {r.name:16s} step {fmt(r.step):>9s} {spread:24s} first {fmt(r.first):>9s}  "
            f"1000 steps {fmt(r.train1000):>9s}"
        )
    if ours is None or ours.step is None or best is None:
        return None, None, None if ours is None else ours.step
    train = max(ours.train1000 / r.train1000 for r in peers)
    print(
        f"  torch / best peer ({best.name}) per step: {ours.step / best.step:.3g}; 1000 steps, worst: {train:.3g}"
    )
    return ours.step / best.step, train, ours.step


def _ratio(results: dict[str, Result], peer: str) -> float | None:
    """torch's step over ``peer``'s, where both ran."""
    ours, other = results.get("torch"), results.get(peer)
    if ours is None or other is None or ours.step is None or other.step is None:
        return None
    return ours.step / other.step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", help="comma-separated regime:qubits:batch (default: every cell)")
    parser.add_argument(
        "--regimes", default="exact,qaoa,noise,relax", help="exact, qaoa, noise, relax (shots: regimes.py)"
    )
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--threads", type=int, choices=(1, 2), default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0, help="no repeats past this first call (s)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--peers-dir", type=Path, default=Path(".peers"))
    parser.add_argument("--setup", action="store_true", help="create the peers' virtualenvs first")
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device of the torch engine (cuda: only the contenders that run there)",
    )
    args = parser.parse_args(argv)
    cells = args.cells.split(",") if args.cells else QUICK if args.quick else CELLS
    cells = [c for c in cells if c.split(":")[0] in args.regimes.split(",")]
    if args.device != "cpu":  # the peers' GPU builds are not set up here
        args.contenders = "torch,default.qubit"  # default.qubit (CPU) is the reference it is checked against
    if args.setup:
        setup_venvs(args.peers_dir)
    names = []
    for name in args.contenders.split(","):
        venv, _ = CONTENDERS[name]
        if python_of(venv, args.peers_dir).exists():
            names.append(name)
        else:
            print(f"{name}: no venv at {args.peers_dir / venv} (run with --setup); left out")
    env = thread_env(args.threads)
    start = time.perf_counter()
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.2f}, contenders {', '.join(names)}")
    workers = {}
    for name in names:  # one process each: no contender runs beside another's libraries and threads
        venv, script = CONTENDERS[name]
        workers[name] = Worker(str(python_of(venv, args.peers_dir)), script, env)
    ratios, trains, ours, against = {}, {}, {}, {}
    try:
        for cell in cells:
            results = run_cell(cell, workers, names, args)
            ratios[cell], trains[cell], ours[cell] = report(cell, results)
            against[cell] = {name: _ratio(results, name) for name in ("tensorcircuit", "default.mixed")}
    finally:
        for worker in workers.values():
            worker.close()
    limit = None
    if ours.get("exact:12:32") is not None:
        estimate = arithmetic_estimate(12, 32, args.threads)
        limit = f"{ours['exact:12:32'] / estimate:.3g}"
        print(
            f"\narithmetic estimate at 12 x 32: {fmt(estimate)} (60 gates x 3 passes); torch {fmt(ours['exact:12:32'])}"
        )
    small = [
        r for c, r in ratios.items() if r is not None and c.startswith("exact") and int(c.split(":")[1]) <= 12
    ]
    wide = [
        r for c, r in ratios.items() if r is not None and c.startswith("exact") and int(c.split(":")[1]) >= 16
    ]
    every = [r for c, r in ratios.items() if r is not None and c.split(":")[0] not in NOISE]
    train = [t for c, t in trains.items() if t is not None and c.split(":")[0] not in NOISE]
    noisy = [c for c in ratios if c.split(":")[0] in NOISE]
    noise_tc = [against[c]["tensorcircuit"] for c in noisy if against[c]["tensorcircuit"] is not None]
    noise_mixed = [against[c]["default.mixed"] for c in noisy if against[c]["default.mixed"] is not None]
    noise_train = [trains[c] for c in noisy if trains[c] is not None]

    def worst(values):
        return f"{max(values):.3g}" if values else "nan"

    print(f"\nload average {os.getloadavg()[0]:.2f}; {time.perf_counter() - start:.0f} s in all")
    print(
        f"RESULT step_worst={worst(every)} step_worst_small={worst(small)} step_worst_wide={worst(wide)} "
        f"train1000_worst={worst(train)} qaoa={worst([ratios.get('qaoa:16:1')] if ratios.get('qaoa:16:1') else [])} "
        f"limit_ratio_12x32={limit if limit is not None else 'nan'} noise_tc_worst={worst(noise_tc)} "
        f"noise_mixed_worst={worst(noise_mixed)} noise_train1000_worst={worst(noise_train)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
