"""Forward + backward time of a QuantumLayer on qhybrid's Aer path and on the simulators a user would pick instead.

The layer: angle embedding + 2 strongly entangling layers, ``<Z_i>`` on every qubit, a loss summed over the
outputs, gradients of the trainable weights (as a TorchLayer would). Every backend runs the same circuit,
weights and inputs in the same process:

* ``aer``          qhybrid's batched Aer device, ``diff_method="device"`` (what users get by default)
* ``aer/adjoint``  the same device forced to its Aer-snapshot adjoint
* ``aer/ps``       the same device forced to batched parameter shift
* ``plugin``       the stock PennyLane-Qiskit ``qiskit.aer`` device (statevector method, exact), parameter
                   shift (small sizes only: it transpiles every circuit separately)
* ``lightning``    ``lightning.qubit``, adjoint
* ``default``      ``default.qubit``, backprop

Prints a table of seconds per forward+backward (median of repeats after one warm-up call) and, last,
``RESULT speedup_vs_plugin=<plugin/aer at 4 qubits, batch 32> ratio_vs_lightning_12q=<aer/lightning at 12
qubits, batch 8>``.

    python benchmarks/aer_layer.py --quick     # 4, 8, 12 qubits, batch 256 at 4 only; about a minute
    python benchmarks/aer_layer.py             # adds 16 qubits and more repeats
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pennylane as qp  # noqa: E402
import torch  # noqa: E402

from qhybrid._extras import stock_plugin_missing  # noqa: E402
from qhybrid.qml import QuantumLayer  # noqa: E402

N_LAYERS = 2


def plugin_device(n: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qp.device("qiskit.aer", wires=n, method="statevector")


def make_step(backend: str, n: int, seed: int = 0):
    """A function running one forward+backward; and the layer (for circuit counts)."""
    if backend.startswith("aer"):
        diff = {"aer": "best", "aer/adjoint": "adjoint", "aer/ps": "parameter-shift"}[backend]
        layer = QuantumLayer(n, n_layers=N_LAYERS, backend="aer", diff_method=diff, seed=seed)
    elif backend in ("lightning", "default"):
        layer = QuantumLayer(n, n_layers=N_LAYERS, backend=backend, seed=seed)
    else:  # the stock plugin: same circuit, the plugin's device, parameter shift
        layer = QuantumLayer(n, n_layers=N_LAYERS, backend="default", seed=seed)
        layer.qnode = qp.QNode(
            layer._circuit, plugin_device(n), interface="torch", diff_method="parameter-shift"
        )
    weights = torch.nn.Parameter(layer.weights.detach().clone())

    def step(x):
        if weights.grad is not None:
            weights.grad = None
        out = layer.qnode(x, weights)
        torch.stack(list(out), dim=-1).sum().backward()
        return weights.grad

    return step, layer


def time_backend(
    backend: str, n: int, batch: int, repeats: int, warmup: bool = True
) -> tuple[float, int | None]:
    x = torch.rand(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3.0
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
    x = torch.rand(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3.0
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
    x = torch.rand(batch, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    grads = [make_step(b, n)[0](x).clone() for b in ("aer", "default")]
    return float((grads[0] - grads[1]).abs().max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="4, 8, 12 qubits; fewer repeats (about a minute)"
    )
    args = parser.parse_args(argv)

    qubits = [4, 8, 12] if args.quick else [4, 8, 12, 16]
    batches = [8, 32, 256]
    repeats = 3 if args.quick else 5
    backends = ["aer", "aer/adjoint", "aer/ps", "plugin", "lightning", "default"]
    plugin_missing = stock_plugin_missing("the stock qiskit.aer plugin column")
    if plugin_missing:  # pennylane-qiskit is the optional `bench` extra
        print(plugin_missing)
        backends.remove("plugin")

    # The plugin converts and transpiles every circuit on its own, so its time is linear in the number of
    # circuits (batch x (2 x parameters + 1)): --quick times it at batch 4 and scales to 32 (about 80 s
    # measured directly at 32 on a quiet 2-core machine); a full run measures batch 8 and 32 directly.
    plugin_batch = 4 if args.quick else 32

    def wanted(backend, n, batch):
        if backend == "plugin":
            return n == 4 and batch in ((32,) if args.quick else (8, 32))
        if args.quick:
            # the plugin's anchor cell alone takes most of a minute: keep the rest of --quick small
            if batch == 256 and n > 8:
                return False
            if backend in ("aer/adjoint", "aer/ps") and batch != 8:
                return False
        if backend == "aer/ps" and n >= 12 and batch == 256:
            return False
        if backend == "aer/ps" and n == 16 and batch > 8:
            return False
        return True

    print(
        f"QuantumLayer forward+backward, angle embedding + {N_LAYERS} strongly entangling layers, "
        f"torch {torch.__version__}, pennylane {qp.__version__}, {os.cpu_count()} cores"
    )
    print(f"max |grad(aer) - grad(default.qubit)| at 4 qubits: {check_agreement():.2e}")
    header = (
        f"{'qubits':>6} {'batch':>6} " + " ".join(f"{b:>12}" for b in backends) + f" {'aer circuits':>13}"
    )
    print(header)
    print("-" * len(header))
    results: dict = {}
    for n in qubits:
        for batch in batches:
            cells = []
            circuits = None
            for backend in backends:
                if not wanted(backend, n, batch):
                    cells.append(f"{'-':>12}")
                    continue
                slow = backend == "plugin" or (n >= 16 and backend.startswith("aer"))
                if backend == "plugin" and batch > plugin_batch:
                    t = time_backend(backend, n, plugin_batch, 1, warmup=False)[0] * batch / plugin_batch
                    results[(backend, n, batch)] = t
                    cells.append(f"{t:>10.2f}s*")
                    continue
                t, c = time_backend(backend, n, batch, 1 if slow else repeats, warmup=not slow)
                results[(backend, n, batch)] = t
                if backend == "aer":
                    circuits = c
                cells.append(f"{t:>11.4f}s")
            print(
                f"{n:>6} {batch:>6} " + " ".join(cells) + f" {circuits if circuits is not None else '-':>13}",
                flush=True,
            )

    print()
    print(breakdown(4, 32))
    print(breakdown(12, 8))
    speedup = results.get(("plugin", 4, 32), float("nan")) / results[("aer", 4, 32)]
    ratio = results[("aer", 12, 8)] / results[("lightning", 12, 8)]
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
