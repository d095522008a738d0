"""Noise past 12 qubits: trajectories on the statevector engine against Aer's trajectories, with their errors.

The job of ``benchmarks/peers.py``'s noise cells (a QuantumLayer forward + backward: angle embedding, 2 strongly
entangling layers, ``<Z_i>`` of every wire, loss = sum of the outputs, gradient of the weights; Qiskit's
depolarising error after every gate, 1 % one-qubit and 3 % two-qubit) at widths where a density matrix stops
fitting. Contenders, in one process, each ``T`` trajectories (shots) per row:

* ``torch.trajectories``: qhybrid's trajectory engine (Pauli insertions drawn per trajectory, each trajectory's
  exact expectation values and adjoint gradient, averaged);
* ``aer.shots``: Aer's statevector with the same noise model (its own trajectories, one sampled outcome per
  shot), gradients by batched parameter shift; past ``--aer-max`` qubits (12) only its forward pass is timed
  and the step estimated as ``(1 + 2 P)`` forwards (P weights: the shifted circuits of parameter shift);
* ``torch.density`` (up to 12 qubits): the exact values the estimates are checked against.

Each repeat times every contender once, in turn; a contender whose first call took longer than ``--budget``
seconds is timed once. Per cell: the median step with its spread, and the mean standard error of the
estimates (the trajectory engine's from the spread of its trajectories; ``aer.shots``'s from its samples,
``sqrt((1 - <Z>^2) / T)``), and where the exact values are known, the largest deviation in standard errors.
The last line: ``RESULT traj_vs_aer_shots_worst=..`` (the engine's step over Aer's, worst cell).

    python benchmarks/trajectories.py                       # 12 and 16 qubits x 8 rows, T = 100
    python benchmarks/trajectories.py --cells 12:8,20:8 --trajectories 50 --threads 2
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from qhybrid.qml import QuantumLayer

NOISE = {"depolarizing_1q": 0.01, "depolarizing_2q": 0.03}
#: the widest cell the exact density engine runs here (12 qubits x 8 rows: 1 GiB a state)
DENSITY_MAX_QUBITS = 12


def _layer(backend: str, n: int, trajectories: int, threads: int, weights: torch.Tensor) -> QuantumLayer:
    shots = trajectories if backend != "torch.density" else None
    options = {"max_parallel_threads": threads} if backend.startswith("aer") else {}
    layer = QuantumLayer(n, n_layers=2, backend=backend, shots=shots, noise=NOISE, seed=0, **options)
    with torch.no_grad():
        layer.weights.copy_(weights)
    return layer


def _step(layer: QuantumLayer, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    layer.weights.grad = None
    out = layer(x)
    out.sum().backward()
    return time.perf_counter() - start, out.detach()


def _error(name: str, layer: QuantumLayer, out: torch.Tensor, trajectories: int) -> torch.Tensor | None:
    if name == "torch.trajectories":
        return layer.engine.last_standard_error
    if name == "aer.shots":
        return torch.sqrt((1 - out**2).clamp(min=0) / trajectories)
    return None


def run_cell(n: int, rows: int, args) -> dict:
    x = torch.rand(rows, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    weights = (
        torch.rand((2, n, 3), dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 * math.pi
    )
    names = ["torch.trajectories", "aer.shots"] + (["torch.density"] if n <= DENSITY_MAX_QUBITS else [])
    layers = {name: _layer(name, n, args.trajectories, args.threads, weights) for name in names}
    first, times, outs, estimated = {}, {name: [] for name in names}, {}, set()
    for name in names:
        if name == "aer.shots" and n > args.aer_max:
            start = time.perf_counter()
            with torch.no_grad():
                outs[name] = layers[name](x)
            first[name] = (time.perf_counter() - start) * (1 + 2 * weights.numel())
            estimated.add(name)
            continue
        first[name], outs[name] = _step(layers[name], x)
    timed = [name for name in names if first[name] <= args.budget and name not in estimated]
    for r in range(args.repeats):
        for name in timed[r % len(timed) :] + timed[: r % len(timed)] if timed else []:
            seconds, outs[name] = _step(layers[name], x)
            times[name].append(seconds)
    exact = outs.get("torch.density")
    row = {}
    for name in names:
        samples = times[name] or [first[name]]
        error = _error(name, layers[name], outs[name], args.trajectories)
        z = None
        if error is not None and exact is not None:
            z = float(((outs[name] - exact).abs() / error.clamp(min=1e-300)).max())
        row[name] = {
            "median": statistics.median(samples),
            "min": min(samples),
            "max": max(samples),
            "first": first[name],
            "error": None if error is None else float(error.mean()),
            "z": z,
        }
        spread = f"[{row[name]['min']:.3g}-{row[name]['max']:.3g}]" if times[name] else "(one call)"
        spread = "(estimated)" if name in estimated else spread
        stat = "exact" if error is None else f"std error {row[name]['error']:.2g}"
        dev = f", worst |estimate - exact| = {z:.1f} std errors" if z is not None else ""
        print(
            f"  {name:19} step {row[name]['median']:8.3g} s {spread:18} first {first[name]:.3g} s  {stat}{dev}"
        )
    ratio = row["torch.trajectories"]["median"] / row["aer.shots"]["median"]
    print(f"  torch.trajectories / aer.shots per step: {ratio:.3g}")
    return {"ratio": ratio, **row}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", default="12:8,16:8", help="qubits:rows, comma separated")
    parser.add_argument("--trajectories", type=int, default=100, help="trajectories (shots) per row")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads and Aer's max_parallel_threads")
    parser.add_argument("--budget", type=float, default=60.0, help="one call only past this first call (s)")
    parser.add_argument("--aer-max", type=int, default=12, help="widest cell aer.shots runs a whole step in")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, {args.trajectories} trajectories a row, noise {NOISE}")
    ratios = []
    for cell in args.cells.split(","):
        n, rows = (int(v) for v in cell.split(":"))
        print(f"\nnoise {n} x {rows}")
        ratios.append(run_cell(n, rows, args)["ratio"])
    print(f"\nRESULT traj_vs_aer_shots_worst={max(ratios):.3g}")


if __name__ == "__main__":
    main()
