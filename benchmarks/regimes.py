"""qhybrid against every simulator a user would pick for the same job, regime by regime, in one process.

The job: a QuantumLayer forward + backward (angle embedding + 2 strongly entangling layers, ``<Z_i>`` on every
wire, loss = sum of the outputs, gradient of the weights). Every contender in a cell runs qhybrid's circuit on
the same float64 inputs with the same weights (copied from qhybrid's layer):

* ``exact``  qhybrid ``aer`` against ``default.qubit`` (backprop) and ``lightning.qubit`` (adjoint);
* ``shots``  qhybrid ``aer.shots`` (1000 shots) against ``default.qubit`` and ``lightning.qubit`` with the same
             shots (``qp.set_shots`` on the QNode) and parameter shift;
* ``noise``  qhybrid ``aer.density`` with depolarising noise p = 0.01 after every gate (an Aer ``NoiseModel``
             built here) against ``default.mixed`` with the same channels written gate by gate (backprop),
             and, at 4 qubits x 8 only, the stock PennyLane-Qiskit ``qiskit.aer`` device (density matrix, the
             same noise model, parameter shift, transpiled at optimisation level 0 so that no noisy gate is
             merged away; it cannot return exact density-matrix expectations, so it samples 1000 shots);
* ``qaoa``   QAOA MaxCut energy + gradient (3-regular graph on 16 nodes, seed 0, p = 2) on qhybrid ``aer``
             against ``lightning.qubit`` (adjoint) and ``default.qubit`` (backprop).

Before timing, each cell checks that its contenders compute the same thing (values and exact gradients to
1e-8 of qhybrid's; sampled values within 6 standard deviations of shot noise) and aborts if they don't.
Contenders are interleaved (each repeat runs every contender once, in turn, so a busy machine hits them
alike) after one warm-up call each (which also compiles and caches). A contender whose call would take longer
than ``--budget`` seconds (60), scaled from a smaller cell it ran in, is skipped and the table says so. The
peak memory (peak RSS) of each exact contender at the widest exact size is measured in a process of its own.

Prints one row per cell (median seconds per call with the min-max spread, the best alternative and qhybrid's
time over the best's, the largest value difference found by the check, the other contenders), the peak
memory and, last, ``RESULT exact_worst=.. shots_worst=.. noise_worst=.. qaoa_worst=.. wide_vs_lightning=..
mem_vs_lightning=..``: the worst ours/best ratio of each regime, and ours/lightning.qubit in time and in peak
memory at the widest exact size (20 qubits, batch 8; 12 in ``--quick``).

    python benchmarks/regimes.py --quick    # exact 4-12 qubits x 8 and 32, shots 4 and 8, noise 4 and 6, qaoa
    python benchmarks/regimes.py            # adds exact 16 and 20 (x 8), shots 12, noise 8 and 12; ~20-30 min
    python benchmarks/regimes.py --regimes exact,qaoa --repeats 5 --markdown
    python benchmarks/regimes.py --cells noise:4:8,shots:4:8    # only these cells (regime:qubits:batch)
    python benchmarks/regimes.py --cells exact:10:32 --ansatz basic_entangler --layers 5   # the study's DQC

``--ansatz`` and ``--layers`` set the exact and shots cells' circuit (``basic_entangler``, ``RX`` and a CNOT
ring, is the shape of the qml-benchmarks study's dressed circuit; its reversed pass runs in numpy).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from qhybrid import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)
START = time.perf_counter()  # the wall time printed at the end includes the imports

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pennylane as qp  # noqa: E402
import torch  # noqa: E402
from qiskit_aer.noise import NoiseModel, depolarizing_error  # noqa: E402

from qhybrid._extras import stock_plugin_missing  # noqa: E402
from qhybrid.qml import QuantumLayer, default_diff_method, make_device  # noqa: E402
from qhybrid.qml.circuits import ANSATZE  # noqa: E402
from qhybrid.qml.solvers import MaxCut, energy_functions, linear_ramp, qaoa_circuit  # noqa: E402

N_LAYERS = 2
#: The exact and shots cells' ansatz and depth (``--ansatz``, ``--layers``); noise cells always run N_LAYERS
#: strongly entangling layers (default.mixed's circuit is written gate by gate for that ansatz).
LAYERS = {"ansatz": "strongly_entangling", "n": N_LAYERS}
SHOTS = 1000
P_DEPOL = 0.01
SEED = 0
QAOA_P = 2
TOL = 1e-8
#: How many standard deviations of shot noise sampled values may differ by before a cell is aborted.
SAMPLED_SIGMAS = 6.0
#: Factor by which a call's time grows per qubit (statevector 2, density matrix 4), to skip over-budget calls.
GROWTH = {"exact": 2.0, "shots": 2.0, "noise": 4.0, "qaoa": 2.0}
REGIMES = ("exact", "shots", "noise", "qaoa")
#: The gates qhybrid's Aer device emits (and Aer runs natively): every one gets a depolarising error.
ONE_QUBIT_GATES = ("rx", "ry", "rz", "p", "h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg")
TWO_QUBIT_GATES = ("cx", "cz", "cy", "swap", "rxx", "ryy", "rzz")
#: The stock plugin runs only here: it transpiles every circuit (392 of them per call at 4 qubits x 8).
PLUGIN_CELLS = {("noise", 4, 8)}
PENNYLANE = {"default": "default.qubit", "lightning": "lightning.qubit"}

Step = Callable[[], tuple[np.ndarray, np.ndarray]]  # one timed call; returns (values, gradient)


@dataclass(frozen=True)
class Cell:
    regime: str
    n: int
    batch: int  # 1 for qaoa: one energy and its gradient

    def __str__(self) -> str:
        return f"{self.regime} {self.n}q" + (f" x {self.batch}" if self.regime != "qaoa" else "")


@dataclass
class Contender:
    name: str
    build: Callable[[], Step]  # called only if the cell runs it, so a --one process holds one simulator
    sampled: bool = False


@dataclass
class Outcome:
    name: str
    times: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.skipped is None else None


@dataclass
class Row:
    cell: Cell
    outcomes: list[Outcome]  # qhybrid's first
    agreement: str  # largest value differences found by the check

    @property
    def best(self) -> Outcome | None:
        timed = [o for o in self.outcomes[1:] if o.median is not None]
        return min(timed, key=lambda o: o.median) if timed else None

    @property
    def ratio(self) -> float | None:
        ours, best = self.outcomes[0], self.best
        return ours.median / best.median if ours.median is not None and best is not None else None

    def median_of(self, name: str) -> float | None:
        return next((o.median for o in self.outcomes if o.name == name), None)


# ------------------------------------------------------------------------------------------ layer contenders
def cell_inputs(cell: Cell) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(cell.batch, cell.n, dtype=torch.float64, generator=generator) * 3.0


def layer_step(layer: QuantumLayer, x: torch.Tensor) -> Step:
    """qhybrid as its users call it: the layer itself."""

    def step():
        layer.weights.grad = None
        out = layer(x)
        out.sum().backward()
        return out.detach().numpy(), layer.weights.grad.numpy().copy()

    return step


def qnode_step(ours: QuantumLayer, x, device, diff_method: str, shots=None, circuit=None) -> Step:
    """A torch QNode on ``device`` running ``circuit`` (default: qhybrid's own) with a copy of ours' weights."""
    qnode = qp.QNode(
        circuit or ours.circuit,
        device,
        interface="torch",
        diff_method=diff_method,
        device_vjp=diff_method == "adjoint",  # one adjoint pass with the cotangents, as QuantumLayer does
    )
    if shots is not None:
        qnode = qp.set_shots(qnode, shots=shots)  # device shots are deprecated
    weights = torch.nn.Parameter(ours.weights.detach().clone())

    def step():
        weights.grad = None
        out = torch.stack(list(qnode(x, weights)), dim=-1)
        out.sum().backward()
        return out.detach().numpy(), weights.grad.numpy().copy()

    return step


def pennylane_step(ours: QuantumLayer, x, backend: str, shots: int | None = None) -> Step:
    """``default.qubit`` / ``lightning.qubit`` with the diff method qhybrid picks for them."""
    device = make_device(backend, ours.n_qubits, seed=SEED if shots else None)  # seeds the sampler only
    return qnode_step(ours, x, device, default_diff_method(backend, shots), shots)


def exact_contenders(cell: Cell, x) -> list[Contender]:
    ours = QuantumLayer(cell.n, n_layers=LAYERS["n"], ansatz=LAYERS["ansatz"], backend="aer", seed=SEED)
    return [Contender("aer", partial(layer_step, ours, x))] + [
        Contender(name, partial(pennylane_step, ours, x, backend)) for backend, name in PENNYLANE.items()
    ]


def shots_contenders(cell: Cell, x) -> list[Contender]:
    ours = QuantumLayer(
        cell.n, n_layers=LAYERS["n"], ansatz=LAYERS["ansatz"], backend="aer.shots", shots=SHOTS, seed=SEED
    )
    return [Contender("aer.shots", partial(layer_step, ours, x), sampled=True)] + [
        Contender(name, partial(pennylane_step, ours, x, backend, SHOTS), sampled=True)
        for backend, name in PENNYLANE.items()
    ]


# ------------------------------------------------------------------------------------------ noise contenders
def depolarizing_model(p: float) -> NoiseModel:
    """Qiskit's depolarising error after every gate: one-qubit ``depolarizing_error(p, 1)`` after one-qubit
    gates, the two-qubit ``depolarizing_error(p, 2)`` after two-qubit gates (what ``NoiseSpec`` builds)."""
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(p, 1), list(ONE_QUBIT_GATES))
    model.add_all_qubit_quantum_error(depolarizing_error(p, 2), list(TWO_QUBIT_GATES))
    return model


def two_qubit_depolarizing_kraus(p: float) -> list[np.ndarray]:
    """Kraus operators of Qiskit's ``depolarizing_error(p, 2)``: rho -> (1 - p) rho + p I/4, i.e.
    ``sqrt(1 - 15p/16) I`` and ``sqrt(p/16) P`` for the 15 other two-qubit Paulis (a set that does not
    depend on which wire comes first)."""
    paulis = [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])]
    kraus = [np.sqrt(1 - 15 * p / 16) * np.eye(4, dtype=complex)]
    kraus += [
        np.sqrt(p / 16) * np.kron(a, b) for i, a in enumerate(paulis) for j, b in enumerate(paulis) if i or j
    ]
    return kraus


def mixed_circuit(n: int, p: float) -> Callable:
    """qhybrid's circuit in the gates Aer runs, with PennyLane's version of each Aer channel after each gate.

    Qiskit's ``depolarizing_error(p, 1)`` maps rho -> (1 - p) rho + p I/2 (<Z> x (1 - p)); PennyLane's
    ``DepolarizingChannel(q)`` scales <Z> by 1 - 4q/3: so q = 3p/4. The two-qubit error has no PennyLane
    channel of its own and becomes a ``QubitChannel`` of its 16 Kraus operators. qhybrid compiles RX to rx
    and Rot(phi, theta, omega) to rz(phi), ry(theta), rz(omega). Its strongly entangling ansatz closes a
    ring of CNOT(i, i + 1) in every layer (PennyLane's template uses range l % (n - 1) + 1 instead); the
    check in ``run_cell`` aborts if this circuit and qhybrid's ever part.
    """
    q = 3 * p / 4
    kraus2 = two_qubit_depolarizing_kraus(p)

    def noisy(gate, *params, wires):
        gate(*params, wires=wires)
        if len(wires) == 1:
            qp.DepolarizingChannel(q, wires=wires[0])
        else:
            qp.QubitChannel(kraus2, wires=wires)

    def circuit(inputs, weights):
        for i in range(n):
            noisy(qp.RX, inputs[..., i], wires=[i])
        for layer in weights:
            for i in range(n):
                noisy(qp.RZ, layer[i, 0], wires=[i])
                noisy(qp.RY, layer[i, 1], wires=[i])
                noisy(qp.RZ, layer[i, 2], wires=[i])
            for i in range(n):  # n >= 3 (--cells checks it): a proper ring
                noisy(qp.CNOT, wires=[i, (i + 1) % n])
        return [qp.expval(qp.Z(i)) for i in range(n)]

    return circuit


@functools.cache
def plugin_missing() -> str | None:
    """Why the stock plugin row is left out (pennylane-qiskit is the optional `bench` extra), printed once;
    ``None`` when it runs."""
    missing = stock_plugin_missing("the stock qiskit.aer plugin row")
    if missing:
        print(missing, flush=True)
    return missing


def plugin_step(ours: QuantumLayer, x, model: NoiseModel) -> Step:
    """The stock ``qiskit.aer`` device: density matrix, our noise model, parameter shift, 1000 shots."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plugin's own deprecation and runtime chatter
        # optimization_level=0: the default transpile merges each RX into the following rotations, which
        # drops noisy gates (different channels); level 0 keeps the circuit as qhybrid runs it.
        device = qp.device(
            "qiskit.aer",
            wires=ours.n_qubits,
            method="density_matrix",
            noise_model=model,
            optimization_level=0,
            seed_simulator=SEED,
        )
    # Its legacy device samples whenever the method is not statevector; 1000 shots, as the shots regime.
    return qnode_step(ours, x, device, "parameter-shift", SHOTS)


def noise_contenders(cell: Cell, x) -> list[Contender]:
    model = depolarizing_model(P_DEPOL)
    ours = QuantumLayer(cell.n, n_layers=N_LAYERS, backend="aer.density", noise=model, seed=SEED)
    mixed = qp.device("default.mixed", wires=cell.n)
    contenders = [
        Contender("aer.density", partial(layer_step, ours, x)),
        Contender(
            "default.mixed",
            partial(qnode_step, ours, x, mixed, "backprop", None, mixed_circuit(cell.n, P_DEPOL)),
        ),
    ]
    if (cell.regime, cell.n, cell.batch) in PLUGIN_CELLS and not plugin_missing():
        contenders.append(Contender("qiskit.aer plugin", partial(plugin_step, ours, x, model), sampled=True))
    return contenders


# ------------------------------------------------------------------------------------------ qaoa contenders
def qaoa_step(problem: MaxCut, backend: str) -> Step:
    """``value_and_grad`` of the QAOA energy, as ``QAOA.solve`` builds it for gradient optimisers."""
    apply, hamiltonian = qaoa_circuit(problem), problem.cost_hamiltonian()
    params = np.concatenate(linear_ramp(QAOA_P))

    @qp.qnode(make_device(backend, problem.n_qubits), diff_method=default_diff_method(backend))
    def energy(angles):
        apply(angles, QAOA_P)
        return qp.expval(hamiltonian)

    _, value_and_grad = energy_functions(energy)

    def step():
        value, grad = value_and_grad(params)
        return np.array([value]), grad

    return step


def qaoa_contenders(cell: Cell, _x) -> list[Contender]:
    problem = MaxCut(nx.random_regular_graph(3, cell.n, seed=SEED))
    names = {"aer": "aer", **PENNYLANE}
    return [Contender(name, partial(qaoa_step, problem, backend)) for backend, name in names.items()]


CONTENDERS = {
    "exact": exact_contenders,
    "shots": shots_contenders,
    "noise": noise_contenders,
    "qaoa": qaoa_contenders,
}


# ------------------------------------------------------------------------------------------ one cell
def tolerance(a: Contender, b: Contender) -> float:
    """How far two contenders' values may be apart: rounding, or shot noise of the sampled ones."""
    sampled = int(a.sampled) + int(b.sampled)
    # a sampled <Z> has variance <= 1/shots; the difference of independent estimates adds their variances
    return TOL if not sampled else SAMPLED_SIGMAS * math.sqrt(sampled / SHOTS)


def differences(ours: Contender, other: Contender, outputs: dict) -> tuple[float, list[str]]:
    """Largest value difference of ``other`` to ``ours`` and what is beyond tolerance (exact: gradients too)."""
    (ref_values, ref_grad), (values, grad) = outputs[ours.name], outputs[other.name]
    dv = float(np.max(np.abs(values - ref_values)))
    problems = []
    if dv > tolerance(ours, other):
        problems.append(f"values differ by {dv:.2e} (tolerance {tolerance(ours, other):.1e})")
    if not (ours.sampled or other.sampled):
        dg = float(np.max(np.abs(grad - ref_grad)))
        if dg > TOL * max(1.0, float(np.max(np.abs(ref_grad)))):
            problems.append(f"gradients differ by {dg:.2e}")
    return dv, problems


def check_agreement(cell: Cell, contenders: list[Contender], outputs: dict) -> str:
    """Exit when a contender computes something else than qhybrid; else the largest value differences."""
    ours = contenders[0]
    exact, sampled = [], []
    for other in contenders[1:]:
        if ours.name not in outputs or other.name not in outputs:
            continue
        dv, problems = differences(ours, other, outputs)
        if problems:
            sys.exit(f"ABORT {cell}: {other.name} and {ours.name} disagree: {'; '.join(problems)}")
        (sampled if ours.sampled or other.sampled else exact).append(dv)
    summary = ([f"{max(exact):.0e}"] if exact else []) + ([f"{max(sampled):.2f} (shots)"] if sampled else [])
    return "; ".join(summary) or "-"


def estimate(history: dict, cell: Cell, name: str) -> float | None:
    """Seconds a call of ``name`` would take in ``cell``, scaled from the largest smaller cell it ran in."""
    known = [
        (c, t)
        for (c, n), t in history.items()
        if n == name and c.regime == cell.regime and c.n <= cell.n and c.batch <= cell.batch
    ]
    if not known:
        return None
    c, t = max(known, key=lambda item: (item[0].n, item[0].batch))
    return t * GROWTH[cell.regime] ** (cell.n - c.n) * cell.batch / c.batch


def warm_up(cell: Cell, steps: dict, outcomes: dict, budget: float, history: dict) -> dict:
    """One call of each contender (compiles and caches); its outputs feed the check. Over budget: not timed."""
    outputs = {}
    for name, step in list(steps.items()):
        t0 = time.perf_counter()
        outputs[name] = step()
        took = time.perf_counter() - t0
        if took > budget:
            outcomes[name].skipped = f"skipped: warm-up {sig(took, 2)} s > budget"
            history[(cell, name)] = took
            del steps[name]
    return outputs


def time_interleaved(steps: dict, outcomes: dict, repeats: int) -> None:
    """Each repeat runs every contender once, in turn, so load on the machine hits them alike."""
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            outcomes[name].times.append(time.perf_counter() - t0)


def run_cell(cell: Cell, repeats: int, budget: float, history: dict) -> tuple[list[Outcome], str]:
    """Every contender of ``cell``: build, warm up, check agreement, time. Returns outcomes (ours first)."""
    contenders = CONTENDERS[cell.regime](cell, cell_inputs(cell))
    outcomes = {c.name: Outcome(c.name) for c in contenders}
    steps = {}
    for c in contenders:
        guess = estimate(history, cell, c.name)
        if guess is not None and guess > budget:
            outcomes[c.name].skipped = f"skipped: > budget (est. {sig(guess, 2)} s)"
        else:
            steps[c.name] = c.build()
    outputs = warm_up(cell, steps, outcomes, budget, history)
    agreement = check_agreement(cell, contenders, outputs)
    time_interleaved(steps, outcomes, repeats)
    for name, outcome in outcomes.items():
        if outcome.median is not None:
            history[(cell, name)] = outcome.median
    return list(outcomes.values()), agreement


# ------------------------------------------------------------------------------------------ peak memory
def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux keeps ``ru_maxrss`` across ``exec``: a child started by this (by then large) benchmark would report
    the parent's size. ``VmHWM`` belongs to the new address space, so it is read where /proc has it.
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB elsewhere


def run_one(regime: str, n: str, batch: str, name: str) -> int:
    """Hidden ``--one``: a warm-up and one call of one contender in this process; print its peak RSS and how
    much of it the calls added (at small sizes the imports make most of the peak)."""
    torch.set_default_dtype(torch.float64)
    cell = Cell(regime, int(n), int(batch))
    contender = next(c for c in CONTENDERS[regime](cell, cell_inputs(cell)) if c.name == name)
    step = contender.build()
    before = peak_rss_mb()
    step()
    step()
    print(f"PEAK_RSS_MB {peak_rss_mb():.1f} {peak_rss_mb() - before:.1f}")
    return 0


def peak_memory(row: Row) -> dict[str, tuple[float, float] | None]:
    """Peak RSS in MB of each contender timed in ``row``, each in a fresh process (imports included), and the
    part its calls added. Contenders skipped for the budget are not run again here."""
    cell, memory = row.cell, {}
    for outcome in row.outcomes:
        if outcome.median is None:
            continue
        args = ["--one", cell.regime, str(cell.n), str(cell.batch), outcome.name]
        args += ["--ansatz", LAYERS["ansatz"], "--layers", str(LAYERS["n"])]
        try:
            done = subprocess.run(
                [sys.executable, __file__, *args], capture_output=True, text=True, timeout=3600
            )
        except subprocess.TimeoutExpired:
            memory[outcome.name] = None
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("PEAK_RSS_MB ")]
        ok = done.returncode == 0 and lines
        memory[outcome.name] = tuple(float(v) for v in lines[-1].split()[1:]) if ok else None
        if not ok:
            print(f"peak memory of {outcome.name} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
    return memory


# ------------------------------------------------------------------------------------------ report
def sig(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, trailing zeros kept (0.200, 35.1, 1234)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, digits - 1 - math.floor(math.log10(abs(value))))}f}"


def fmt_outcome(o: Outcome | None, dash: str = "-") -> str:
    if o is None:
        return "-"
    if o.median is None:
        return f"{o.name} {o.skipped}"
    return f"{o.name} {sig(o.median)} s ({sig(min(o.times))}{dash}{sig(max(o.times))})"


def row_fields(row: Row, dash: str = "-") -> list[str]:
    best = row.best
    others = [o for o in row.outcomes[1:] if o is not best]
    return [
        row.cell.regime,
        str(row.cell.n),
        "-" if row.cell.regime == "qaoa" else str(row.cell.batch),
        fmt_outcome(row.outcomes[0], dash),
        fmt_outcome(best, dash),
        fmt_ratio(row.ratio),
        row.agreement,
        "; ".join(fmt_outcome(o, dash) for o in others) or "-",
    ]


HEADER = ["regime", "qubits", "batch", "qhybrid", "best alternative", "ours/best", "max diff", "others"]
WIDTHS = [6, 6, 5, 34, 42, 9, 18, 0]
RIGHT = {1, 2, 5}


def text_line(fields: list[str]) -> str:
    cells = [
        f.rjust(w) if i in RIGHT else f.ljust(w) for i, (f, w) in enumerate(zip(fields, WIDTHS, strict=True))
    ]
    return "  ".join(cells).rstrip()


def markdown_table(rows: list[Row]) -> str:
    rule = "|" + "".join("---:|" if i in RIGHT else "---|" for i in range(len(HEADER)))
    lines = ["| " + " | ".join(HEADER) + " |", rule]
    lines += ["| " + " | ".join(row_fields(row, "–")) + " |" for row in rows]
    return "\n".join(lines)


def fmt_memory(memory: dict) -> list[str]:
    return [f"{k} failed" if v is None else f"{k} {v[0]:.0f} MB (+{v[1]:.0f})" for k, v in memory.items()]


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else sig(value)


def result_line(rows: list[Row], wide: Row | None, memory: dict) -> str:
    worst = {
        regime: max((r.ratio for r in rows if r.cell.regime == regime and r.ratio is not None), default=None)
        for regime in REGIMES
    }
    vs_lightning = None
    if wide is not None and wide.outcomes[0].median and wide.median_of("lightning.qubit"):
        vs_lightning = wide.outcomes[0].median / wide.median_of("lightning.qubit")
    mem = None
    if memory.get("aer") and memory.get("lightning.qubit"):
        mem = memory["aer"][0] / memory["lightning.qubit"][0]
    fields = [f"{regime}_worst={fmt_ratio(worst[regime])}" for regime in REGIMES]
    return "RESULT " + " ".join(
        fields + [f"wide_vs_lightning={fmt_ratio(vs_lightning)}", f"mem_vs_lightning={fmt_ratio(mem)}"]
    )


# ------------------------------------------------------------------------------------------ command line
def plan(quick: bool) -> list[Cell]:
    """The cells of a run. --quick: exact at 4-12 qubits, shots at 4 and 8, noise at 4 and 6."""
    small = [(n, b) for n in (4, 8, 12) for b in (8, 32)]
    exact = small + ([] if quick else [(16, 8), (20, 8)])
    # at 12 qubits x 8 the shots alternatives alone need ~30 s a call (default.qubit ~22 s): not in --quick
    shots = [(n, b) for n, b in small if not (quick and n == 12)]
    noise = [(n, b) for n in ((4, 6) if quick else (4, 8, 12)) for b in (8, 32)]
    return (
        [Cell("exact", n, b) for n, b in exact]
        + [Cell("shots", n, b) for n, b in shots]
        + [Cell("noise", n, b) for n, b in noise]
        + [Cell("qaoa", 16, 1)]
    )


def parse_cells(text: str) -> list[Cell]:
    """``exact:4:8,qaoa:16`` -> cells (qaoa takes no batch)."""
    cells = []
    for item in text.split(","):
        parts = item.split(":")
        ok = parts[0] in REGIMES and len(parts) == (2 if parts[0] == "qaoa" else 3)
        # at least 3 qubits: on 2, qhybrid's ring is one CNOT (mixed_circuit assumes a proper ring)
        if not ok or not all(p.isdigit() and int(p) >= low for p, low in zip(parts[1:], (3, 1), strict=True)):
            raise SystemExit(
                f"--cells {item!r}: expected regime:qubits:batch (qaoa:nodes), regime in {REGIMES}"
            )
        cells.append(Cell(parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else 1))
    return cells


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller cells (under 5 minutes)")
    parser.add_argument(
        "--regimes", default=",".join(REGIMES), help="comma-separated subset of " + ",".join(REGIMES)
    )
    parser.add_argument("--cells", help="only these cells, e.g. exact:4:8,qaoa:16 (regime:qubits:batch)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per contender (median; default 3)"
    )
    parser.add_argument(
        "--budget", type=float, default=60.0, help="skip calls estimated above this (seconds)"
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument(
        "--ansatz", choices=sorted(ANSATZE), default=LAYERS["ansatz"], help="exact and shots cells' ansatz"
    )
    parser.add_argument("--layers", type=int, default=N_LAYERS, help="exact and shots cells' layers")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # regime qubits batch contender: peak RSS
    args = parser.parse_args(argv)
    regimes = args.regimes.split(",")
    if not set(regimes) <= set(REGIMES) or args.repeats < 1 or args.layers < 1:
        parser.error(f"--regimes takes {','.join(REGIMES)}; --repeats and --layers must be >= 1")
    LAYERS.update(ansatz=args.ansatz, n=args.layers)
    args.selected = (
        parse_cells(args.cells) if args.cells else [c for c in plan(args.quick) if c.regime in regimes]
    )
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one:
        return run_one(*args.one)
    # default.mixed evaluates broadcast torch batches partly in single precision while torch's default dtype
    # is float32 (values ~1e-7 off); every contender runs in float64 anyway.
    torch.set_default_dtype(torch.float64)
    print(
        f"QuantumLayer fwd+bwd (exact, shots: {LAYERS['n']} {LAYERS['ansatz']} layers; noise: {N_LAYERS} "
        f"strongly_entangling) and QAOA p={QAOA_P}; median of "
        f"{args.repeats} interleaved calls after a warm-up; budget {sig(args.budget, 2)} s a call; torch "
        f"{torch.__version__}, pennylane {qp.__version__}, {os.cpu_count()} cores"
    )
    print(text_line(HEADER))
    rows, history = [], {}
    for cell in args.selected:
        outcomes, agreement = run_cell(cell, args.repeats, args.budget, history)
        rows.append(Row(cell, outcomes, agreement))
        print(text_line(row_fields(rows[-1])), flush=True)
    exact = [r for r in rows if r.cell.regime == "exact" and r.cell.batch == 8]
    wide = max(exact, key=lambda r: r.cell.n, default=None)
    memory = peak_memory(wide) if wide is not None else {}
    if memory:
        print(f"peak RSS at {wide.cell} (added by the calls): " + ", ".join(fmt_memory(memory)))
    if args.markdown:
        print("\n" + markdown_table(rows) + "\n")
    print(f"wall time {sig(time.perf_counter() - START)} s")
    print(result_line(rows, wide, memory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
