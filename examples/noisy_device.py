"""Train a 5-qubit hybrid classifier under the noise of a fake IBM device, and compare it with the ideal one.

The quantum layer runs on Aer's density matrix with ``noise="fake_manila"``: each circuit structure is
compiled once to FakeManilaV2's basis gates (cx, rz, sx, x) and coupling map, and the device's noise
model (gate errors, thermal relaxation) acts on the gates that device would run. Gradients come from
parameter shift (the noise has thermal relaxation, which the density-matrix adjoint does not take). The
same model is trained without noise on the exact statevector, and both are scored on the test split. Last,
one training step of the layer under a noise model given by its rates (``NoiseSpec``: depolarising errors and
thermal relaxation after every gate), on the density engine (``torch.density``, what ``backend="auto"``
picks for it: every gradient from one backward sweep) and on ``aer.density`` (parameter shift).
Needs the ``ibm`` extra (``pip install 'qhybrid[ibm]'``, qiskit-ibm-runtime's fake backends). About a
minute on 2 CPU cores.

    python examples/noisy_device.py [--backend fake_manila] [--epochs 8] [--samples 160]
"""

import argparse
import time

import torch
from torch import nn

from qhybrid.classical import Trainer, load_dataset
from qhybrid.qml import QuantumLayer

N_QUBITS = 5
#: A device model given by its rates (qhybrid.qml.NoiseSpec): it runs on the density engine.
SPEC_NOISE = {"depolarizing_1q": 0.001, "depolarizing_2q": 0.01, "t1": 50e-6, "t2": 40e-6}


def hybrid_model(noise: str | None, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    quantum = QuantumLayer(
        N_QUBITS,
        n_layers=1,
        backend="aer.density" if noise else "aer",
        noise=noise,
        seed=seed,
        max_parallel_threads=1,  # torch and Aer share the cores
    )
    return nn.Sequential(nn.Linear(2, N_QUBITS), nn.Tanh(), quantum, nn.Linear(N_QUBITS, 2))


def train(noise: str | None, data, epochs: int, seed: int) -> tuple[float, float]:
    model = hybrid_model(noise, seed)
    trainer = Trainer(max_epochs=epochs, lr=0.05, batch_size=16, seed=seed, precision="64")
    start = time.perf_counter()
    trainer.fit(model, (data.X_train, data.y_train))
    seconds = time.perf_counter() - start
    return trainer.evaluate(model, (data.X_test, data.y_test))["acc"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="fake_manila", help="a fake IBM backend name")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_dataset("moons", n_samples=args.samples, random_state=args.seed)
    for label, noise in (("ideal (aer)", None), (f"{args.backend} noise (aer.density)", args.backend)):
        acc, seconds = train(noise, data, args.epochs, args.seed)
        print(f"{label:<36} test accuracy {acc:.3f}   training {seconds:.1f} s")
    print("one training step under a noise model of rates (depolarising and T1/T2 after every gate):")
    steps = {backend: step_seconds(backend, args.seed) for backend in ("torch.density", "aer.density")}
    for backend, seconds in steps.items():
        print(f"  {backend:<14} {seconds * 1e3:8.1f} ms")
    print(
        f"  the density engine (what backend='auto' picks for such noise): {steps['aer.density'] / steps['torch.density']:.0f}x"
    )


def step_seconds(backend: str, seed: int, batch: int = 16, repeats: int = 3) -> float:
    """The median time of a forward and backward pass of the quantum layer under ``SPEC_NOISE``."""
    layer = QuantumLayer(
        N_QUBITS, n_layers=1, backend=backend, noise=SPEC_NOISE, seed=seed, max_parallel_threads=1
    )
    x = torch.rand(batch, N_QUBITS, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    times = []
    for _ in range(repeats + 1):  # the first call compiles
        start = time.perf_counter()
        layer(x).sum().backward()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[repeats // 2]


if __name__ == "__main__":
    main()
