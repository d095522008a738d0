"""IQP kernel matrices: qhybrid's statevector kernel on Aer against the tools a user would pick instead.

The job: the 240 x 240 training Gram matrix and the 60 x 240 test kernel of the IQP feature map (2 repeats,
10 qubits, seeded random features in [-pi/2, pi/2]). Contenders:

* ``qhybrid aer``: :class:`qhybrid.qml.kernels.FidelityKernel` on ``aer``: the 300 states from one broadcast
  Aer run, then ``|A* B^T|^2``;
* ``qhybrid default`` / ``qhybrid lightning``: the same code on PennyLane's simulators (shown, not counted
  as others: they are the same method);
* ``PennyLane kernels default.qubit`` / ``lightning.qubit``: ``qp.kernels.square_kernel_matrix``
  (upper triangle, unit diagonal) and ``qp.kernels.kernel_matrix`` on a compute-uncompute QNode, one
  circuit per pair (43080 circuits);
* ``qiskit-ml FidelityStatevectorKernel``: one qiskit ``Statevector`` per sample, then inner products;
* ``qiskit-ml FidelityQuantumKernel``: compute-uncompute circuits on its exact sampler, one per pair.

Every contender runs from a fresh object, interleaved with the others; the table gives the median of
``--repeats`` runs. A contender whose first run takes over 60 s is timed once. The pairwise contenders need
minutes to an hour for all 43080 pairs (measured per pair: default.qubit 19 ms, lightning.qubit 5.7 ms,
FidelityQuantumKernel 56 ms), so without ``--full`` each computes the first ``--block`` rows of the test
kernel (``block * 240`` pairs) and its time is scaled to 43080 pairs (marked ``*``: each pair is its own
circuit, so the time is linear in pairs). Every contender's values are compared with ours (max abs
difference, on what it computed). Timings on a shared machine are noisy: compare ratios from one run.

Last line: ``RESULT kernel_speedup_vs_best=<x>``, the fastest other tool's time over ours.

    python benchmarks/kernels.py            # about 2 minutes on 2 cores
    python benchmarks/kernels.py --full     # every pairwise contender on all pairs: about an hour
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

from qhybrid import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)

import numpy as np  # noqa: E402
import pennylane as qp  # noqa: E402

from qhybrid.qml.kernels import FidelityKernel, iqp_feature_map  # noqa: E402

N_QUBITS, N_TRAIN, N_TEST, REPEATS_IQP = 10, 240, 60, 2
PAIRS = N_TRAIN * (N_TRAIN - 1) // 2 + N_TEST * N_TRAIN
SLOW_S = 60.0


def ours(backend, X, Xt, rows=None):
    kernel = FidelityKernel(partial(iqp_feature_map, repeats=REPEATS_IQP), N_QUBITS, backend)
    train = kernel.embed(X)
    return kernel.gram(train), kernel.cross_gram(Xt, train)


def pennylane_pairs(device_name, X, Xt, rows=None):
    """PennyLane's kernel helpers on a compute-uncompute QNode; ``rows``: only that many test rows."""
    dev = qp.device(device_name, wires=N_QUBITS)

    @qp.qnode(dev, diff_method=None)
    def circuit(x1, x2):
        qp.IQPEmbedding(x1, wires=range(N_QUBITS), n_repeats=REPEATS_IQP)
        qp.adjoint(qp.IQPEmbedding(x2, wires=range(N_QUBITS), n_repeats=REPEATS_IQP))
        return qp.probs()

    def kernel(x1, x2):
        return circuit(x1, x2)[0]

    if rows is not None:
        return None, np.asarray(qp.kernels.kernel_matrix(Xt[:rows], X, kernel))
    train = qp.kernels.square_kernel_matrix(X, kernel, assume_normalized_kernel=True)
    return np.asarray(train), np.asarray(qp.kernels.kernel_matrix(Xt, X, kernel))


def qiskit_iqp_circuit():
    """The same IQP unitary as a parameterised qiskit circuit (``rzz`` is PennyLane's ``IsingZZ``)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

    x = ParameterVector("x", N_QUBITS)
    circuit = QuantumCircuit(N_QUBITS)
    for _ in range(REPEATS_IQP):
        circuit.h(range(N_QUBITS))
        for i in range(N_QUBITS):
            circuit.rz(x[i], i)
        for i in range(N_QUBITS):
            for j in range(i + 1, N_QUBITS):
                circuit.rzz(x[i] * x[j], i, j)
    return circuit


def qiskit_statevector(X, Xt, rows=None):
    from qiskit_machine_learning.kernels import FidelityStatevectorKernel

    kernel = FidelityStatevectorKernel(feature_map=qiskit_iqp_circuit())
    return kernel.evaluate(X), kernel.evaluate(Xt, X)


def qiskit_fidelity(X, Xt, rows=None):
    from qiskit_machine_learning.kernels import FidelityQuantumKernel

    kernel = FidelityQuantumKernel(feature_map=qiskit_iqp_circuit())
    if rows is not None:
        return None, kernel.evaluate(Xt[:rows], X)
    return kernel.evaluate(X), kernel.evaluate(Xt, X)


def contenders(pairwise_rows):
    """(label, function, counts as another tool, test rows it computes or None for all)."""
    rows = [
        ("qhybrid aer", partial(ours, "aer"), False, None),
        ("qhybrid default", partial(ours, "default"), False, None),
        ("qhybrid lightning", partial(ours, "lightning"), False, None),
        ("PennyLane kernels default.qubit", partial(pennylane_pairs, "default.qubit"), True, pairwise_rows),
        (
            "PennyLane kernels lightning.qubit",
            partial(pennylane_pairs, "lightning.qubit"),
            True,
            pairwise_rows,
        ),
    ]
    try:
        import qiskit_machine_learning.kernels  # noqa: F401  (imported here, not inside a timed run)
    except ImportError:
        print(
            "  qiskit-ml rows skipped: qiskit-machine-learning is not installed: pip install 'qhybrid[bench]'"
        )
        return rows
    rows.append(("qiskit-ml FidelityStatevectorKernel", qiskit_statevector, True, None))
    rows.append(("qiskit-ml FidelityQuantumKernel", qiskit_fidelity, True, pairwise_rows))
    return rows


def max_difference(result, reference) -> float:
    train, test = result
    ref_train, ref_test = reference
    diff = float(np.abs(test - ref_test[: len(test)]).max())
    return diff if train is None else max(diff, float(np.abs(train - ref_train).max()))


def run(args) -> float:
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-np.pi / 2, np.pi / 2, (N_TRAIN, N_QUBITS))
    Xt = rng.uniform(-np.pi / 2, np.pi / 2, (N_TEST, N_QUBITS))
    table = contenders(None if args.full else args.block)
    times = {label: [] for label, *_ in table}
    diffs, reference = {}, ours("aer", X, Xt)
    for rep in range(args.repeats):
        for label, fn, _, rows in table:
            if rep and times[label][0] > SLOW_S:
                continue  # timed once
            start = time.perf_counter()
            result = fn(X, Xt, rows=rows)
            times[label].append(time.perf_counter() - start)
            diffs[label] = max_difference(result, reference)
        print(f"  round {rep + 1}/{args.repeats} done")
    head = f"{'contender':<36} {'pairs run':>9} {'runs':>4} {'time s':>10} {'vs ours':>8} {'max |dK|':>9}"
    print(
        f"\nIQP kernel, {N_QUBITS} qubits, {REPEATS_IQP} repeats: {N_TRAIN}x{N_TRAIN} train + {N_TEST}x{N_TRAIN} test"
    )
    print(head)
    print("-" * len(head))
    ours_s = statistics.median(times["qhybrid aer"])
    best_other = None
    for label, _, other, rows in table:
        seconds = statistics.median(times[label])
        pairs = "states" if label.startswith("qhybrid") or "Statevector" in label else str(PAIRS)
        mark = ""
        if rows is not None:
            pairs, mark = str(rows * N_TRAIN), "*"
            seconds *= PAIRS / (rows * N_TRAIN)
        shown = f"{seconds:.3f}{mark}"
        print(
            f"{label:<36} {pairs:>9} {len(times[label]):>4} {shown:>10} {seconds / ours_s:>7.1f}x {diffs[label]:>9.1e}"
        )
        if other and (best_other is None or seconds < best_other[1]):
            best_other = (label, seconds)
    if not args.full:
        print(f"\n* {args.block} test rows run, time scaled to all {PAIRS} pairs (each pair is one circuit)")
    print(f"runs > {SLOW_S:.0f} s are timed once; the machine is shared, so timings are noisy")
    same = statistics.median(times["qhybrid default"]) / ours_s
    print(f"fastest other: {best_other[0]}; the same statevector method on default.qubit: {same:.1f}x ours")
    return best_other[1] / ours_s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender (median; default 3)")
    parser.add_argument("--block", type=int, default=2, help="test rows a pairwise contender computes")
    parser.add_argument("--full", action="store_true", help="pairwise contenders on all pairs (slow)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or not 1 <= args.block <= N_TEST:
        parser.error(f"--repeats must be >= 1 and --block in 1..{N_TEST}")
    speedup = run(args)
    print(f"RESULT kernel_speedup_vs_best={speedup:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
