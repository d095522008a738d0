"""Forward + backward time of a QuantumLayer on qhybrid's Aer path and on the simulators a user would pick instead.

The layer: angle embedding + 2 strongly entangling layers, ``<Z_i>`` on every qubit, a loss summed over the
outputs, gradients of the trainable weights (as a TorchLayer would). Every backend runs the same circuit,
weights and inputs in the same process:

* ``aer``          qhybrid's batched Aer device, ``diff_method="device"`` (what users get by default)
* ``aer/adjoint``  the same device forced to its Aer-snapshot adjoint
* ``aer/ps``       the same device forced to batched parameter shift
* ``plugin``       the stock PennyLane-Qiskit ``qiskit.aer`` device (statevector method, exact), parameter
                   shift (small sizes only: it transpiles every circuit separately); needs the ``bench``
                   extra, and without it the column is skipped with a note
* ``lightning``    ``lightning.qubit``, adjoint
* ``default``      ``default.qubit``, backprop

Prints a table of seconds per forward+backward (median of repeats after one warm-up call) and, last,
``RESULT speedup_vs_plugin=<plugin/aer at 4 qubits, batch 32> ratio_vs_lightning_12q=<aer/lightning at 12
qubits, batch 8>``. It ships in the package, so it runs from any installation:

    qhybrid bench                                 # the --quick set: 4, 8, 12 qubits; about a minute
    qhybrid bench --full                          # adds 16 qubits and more repeats
    python -m qhybrid.hybrid.bench [--quick]      # the same; benchmarks/aer_layer.py calls this too
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

from qhybrid._waiting import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)

import pennylane as qp  # noqa: E402
import torch  # noqa: E402

from qhybrid._extras import stock_plugin_missing  # noqa: E402
from qhybrid.qml import QuantumLayer  # noqa: E402

__all__ = ["breakdown", "check_agreement", "main", "make_step", "time_backend"]

N_LAYERS = 2
BACKENDS = ("aer", "aer/adjoint", "aer/ps", "plugin", "lightning", "default")


def _plugin_device(n: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qp.device("qiskit.aer", wires=n, method="statevector")


def make_step(backend: str, n: int, seed: int = 0):
    """A function running one forward+backward on a ``(batch, n)`` input; and the layer (for circuit
    counts). ``backend`` is one of :data:`BACKENDS`."""
    if backend.startswith("aer"):
        diff = {"aer": "best", "aer/adjoint": "adjoint", "aer/ps": "parameter-shift"}[backend]
        layer = QuantumLayer(n, n_layers=N_LAYERS, backend="aer", diff_method=diff, seed=seed)
    elif backend in ("lightning", "default"):
        layer = QuantumLayer(n, n_layers=N_LAYERS, backend=backend, seed=seed)
    elif backend == "plugin":  # the stock plugin: same circuit, the plugin's device, parameter shift
        layer = QuantumLayer(n, n_layers=N_LAYERS, backend="default", seed=seed)
        layer.qnode = qp.QNode(
            layer.circuit, _plugin_device(n), interface="torch", diff_method="parameter-shift"
        )
    else:
        raise ValueError(f"unknown benchmark backend {backend!r}; choose from {list(BACKENDS)}")
    weights = torch.nn.Parameter(layer.weights.detach().clone())

    def step(x):
        if weights.grad is not None:
            weights.grad = None
        out = layer.qnode(x, weights)
        torch.stack(list(out), dim=-1).sum().backward()
        return weights.grad

    return step, layer


def _inputs(batch: int, n: int, scale: float = 3.0) -> torch.Tensor:
    return torch.rand(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * scale


def time_backend(
    backend: str, n: int, batch: int, repeats: int, warmup: bool = True
) -> tuple[float, int | None]:
    """Median seconds of one forward+backward, and circuits per step (``None`` where the device does not
    count them)."""
    x = _inputs(batch, n)
    step, layer = make_step(backend, n)
    if warmup:
        step(x)
    before = getattr(layer.device, "circuit_executions", None)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - t0)
    circuits = None
    if before is not None:
        circuits = (layer.device.circuit_executions - before) // repeats
    return statistics.median(times), circuits


def breakdown(n: int, batch: int, repeats: int = 3) -> str:
    """Where the time of our aer path goes: Aer itself against conversion and Python around it."""
    x = _inputs(batch, n)
    step, layer = make_step("aer", n)
    step(x)
    dev = layer.device
    c0, a0, s0 = dev.circuit_executions, dev.aer_calls, dev.aer_seconds
    t0 = time.perf_counter()
    for _ in range(repeats):
        step(x)
    total = (time.perf_counter() - t0) / repeats
    inside = (dev.aer_seconds - s0) / repeats
    return (
        f"aer at {n} qubits, batch {batch} ({dev.last_gradient_method}): {total:.3f} s per step, "
        f"{inside:.3f} s inside Aer ({100 * inside / total:.0f} %), {(dev.circuit_executions - c0) // repeats} "
        f"circuits in {(dev.aer_calls - a0) // repeats} Aer calls; the rest is tape handling, conversion of "
        "saved states and PennyLane/torch overhead"
    )


def check_agreement(n: int = 4, batch: int = 8) -> float:
    """Largest difference between the gradients of our aer path and default.qubit (sanity, not timing)."""
    x = _inputs(batch, n, scale=1.0)
    grads = [make_step(b, n)[0](x).clone() for b in ("aer", "default")]
    return float((grads[0] - grads[1]).abs().max())


def _wanted(backend: str, n: int, batch: int, quick: bool) -> bool:
    """Which cells of the grid are timed (the rest print ``-``)."""
    if backend == "plugin":
        return n == 4 and batch in ((32,) if quick else (8, 32))
    if quick:
        # the plugin's anchor cell alone takes most of a minute: keep the rest of --quick small
        if batch == 256 and n > 8:
            return False
        if backend in ("aer/adjoint", "aer/ps") and batch != 8:
            return False
    if backend == "aer/ps" and n >= 12 and batch == 256:
        return False
    return not (backend == "aer/ps" and n == 16 and batch > 8)


def _plugin_batch(quick: bool) -> int:
    # The plugin converts and transpiles every circuit on its own, so its time is linear in the number of
    # circuits (batch x (2 x parameters + 1)): --quick times it at batch 4 and scales to 32 (about 80 s
    # measured directly at 32 on a quiet 2-core machine); a full run measures batch 8 and 32 directly.
    return 4 if quick else 32


def _time_grid(backends: list[str], quick: bool) -> dict[tuple[str, int, int], float]:
    """Print one line per (qubits, batch); return seconds per step by (backend, qubits, batch)."""
    qubits = [4, 8, 12] if quick else [4, 8, 12, 16]
    repeats = 3 if quick else 5
    plugin_batch = _plugin_batch(quick)
    header = (
        f"{'qubits':>6} {'batch':>6} " + " ".join(f"{b:>12}" for b in backends) + f" {'aer circuits':>13}"
    )
    print(header)
    print("-" * len(header))
    results: dict[tuple[str, int, int], float] = {}
    for n in qubits:
        for batch in (8, 32, 256):
            cells, circuits = [], None
            for backend in backends:
                if not _wanted(backend, n, batch, quick):
                    cells.append(f"{'-':>12}")
                    continue
                if backend == "plugin" and batch > plugin_batch:
                    t = time_backend(backend, n, plugin_batch, 1, warmup=False)[0] * batch / plugin_batch
                    results[(backend, n, batch)] = t
                    cells.append(f"{t:>10.2f}s*")
                    continue
                slow = backend == "plugin" or (n >= 16 and backend.startswith("aer"))
                t, c = time_backend(backend, n, batch, 1 if slow else repeats, warmup=not slow)
                results[(backend, n, batch)] = t
                if backend == "aer":
                    circuits = c
                cells.append(f"{t:>11.4f}s")
            shown = circuits if circuits is not None else "-"
            print(f"{n:>6} {batch:>6} " + " ".join(cells) + f" {shown:>13}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (``argv``: ``["--quick"]`` or nothing for the full set); returns 0."""
    parser = argparse.ArgumentParser(prog="qhybrid.hybrid.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="4, 8, 12 qubits; fewer repeats (about a minute)"
    )
    args = parser.parse_args(argv)

    backends = list(BACKENDS)
    plugin_missing = stock_plugin_missing("the stock qiskit.aer plugin column")
    if plugin_missing:  # pennylane-qiskit is the optional `bench` extra
        print(plugin_missing)
        backends.remove("plugin")
    print(
        f"QuantumLayer forward+backward, angle embedding + {N_LAYERS} strongly entangling layers, "
        f"torch {torch.__version__}, pennylane {qp.__version__}, {os.cpu_count()} cores"
    )
    print(f"max |grad(aer) - grad(default.qubit)| at 4 qubits: {check_agreement():.2e}")
    results = _time_grid(backends, args.quick)

    print()
    print(breakdown(4, 32))
    print(breakdown(12, 8))
    speedup = results.get(("plugin", 4, 32), float("nan")) / results[("aer", 4, 32)]
    ratio = results[("aer", 12, 8)] / results[("lightning", 12, 8)]
    plugin_batch = _plugin_batch(args.quick)
    if args.quick and not plugin_missing:
        print(f"* plugin timed at batch {plugin_batch} and scaled linearly (it runs each circuit separately)")
    if plugin_missing:
        print("\naer vs plugin at 4 qubits, batch 32: not measured (the plugin column was skipped)")
    else:
        print(f"\naer vs plugin at 4 qubits, batch 32: {speedup:.0f}x faster (target >= 300x)")
    print(f"aer / lightning.qubit adjoint at 12 qubits, batch 8: {ratio:.2f} (target <= 2.0)")
    print(
        f"RESULT speedup_vs_plugin={speedup:.1f} ratio_vs_lightning_12q={ratio:.2f} plugin_batch_timed={plugin_batch}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
