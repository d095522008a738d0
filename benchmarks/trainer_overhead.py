"""What does classical.Trainer cost over a hand-written torch loop (and over PyTorch Lightning)?

The same model, data, optimiser (Adam), batch size and number of steps are trained by:

* ``plain``: the loop a user would write: shuffle once per epoch, slice batches, forward, loss,
  ``zero_grad`` / ``backward`` / ``step``;
* ``trainer``: ``classical.Trainer(...).fit(model, (X, y))`` with its defaults (it also tracks loss and
  accuracy, checks for NaN, times epochs);
* ``lightning``: a ``LightningModule`` with Lightning's defaults minus logger / checkpoint / progress
  bar, only when ``lightning`` (or ``pytorch_lightning``) is importable. It is not installed by qhybrid.

Workloads: an MLP 64-256-256-10 on the digits set, and a 2-layer d=64 character GPT on CPython's pydoc
topics. The plain loop shuffles with the same seeded permutation as the Trainer, so both do exactly the
same arithmetic: the final weights are compared too. Runs alternate (plain, trainer, lightning, plain,
...) and the best of the repeats is kept, which filters out other processes on a shared machine.

Usage::

    python benchmarks/trainer_overhead.py            # full run (a few minutes on 2 cores)
    python benchmarks/trainer_overhead.py --quick    # under a minute

The last line is ``RESULT trainer_overhead=<worst of ours/plain - 1> mlp=... gpt=... ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from qhybrid.classical import GPT, MLP, GPTConfig, Trainer, set_threads
from qhybrid.classical.text import CharLMDataset, CharTokenizer, load_corpus

SEED = 0


def _mlp_workload(quick: bool):
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)

    def make():
        torch.manual_seed(SEED)
        return MLP(64, 10, hidden=(256, 256))

    return {
        "name": "mlp",
        "X": X,
        "y": y,
        "make": make,
        "batch_size": 64,
        "epochs": 10 if quick else 30,
        "unit": "samples/s",
        "per_sample": 1,
    }


def _gpt_workload(quick: bool):
    text = load_corpus(max_chars=120_000 if quick else None)
    tok = CharTokenizer.fit(text)
    X, y = CharLMDataset(tok.encode(text), 64).tensors()

    def make():
        torch.manual_seed(SEED)
        return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64))

    return {
        "name": "gpt",
        "X": X,
        "y": y,
        "make": make,
        "batch_size": 32,
        "epochs": 1 if quick else 2,
        "unit": "tokens/s",
        "per_sample": 64,
    }


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == 3:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    return F.cross_entropy(out, y)


def run_plain(w) -> tuple[float, torch.nn.Module]:
    model = w["make"]()
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, y, bs, n = w["X"], w["y"], w["batch_size"], len(w["X"])
    model.train()
    for epoch in range(w["epochs"]):
        # The Trainer's own per-epoch permutation, so that both runs do identical arithmetic.
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(SEED * 100_003 + epoch))
        Xp, yp = X[perm], y[perm]
        for i in range(0, n, bs):
            loss = _loss(model(Xp[i : i + bs]), yp[i : i + bs])
            loss.backward()
            opt.step()
            # After the step, as nanoGPT and the Trainer do: the forward pass of the next batch then
            # runs without the old gradients alive (it measured ~9 % faster on the GPT than zeroing
            # just before backward), so the comparison isolates the Trainer's own bookkeeping.
            opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0, model


def run_trainer(w) -> tuple[float, torch.nn.Module]:
    model = w["make"]()
    t0 = time.perf_counter()
    Trainer(
        max_epochs=w["epochs"],
        batch_size=w["batch_size"],
        lr=1e-3,
        optimizer="adam",
        seed=SEED,
        accelerator="cpu",
    ).fit(model, (w["X"], w["y"]))
    return time.perf_counter() - t0, model


def _lightning():
    for name in ("lightning.pytorch", "pytorch_lightning"):
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            return importlib.import_module(name)
    return None


def run_lightning(w, L) -> tuple[float, torch.nn.Module]:
    from torch.utils.data import DataLoader, TensorDataset

    class Module(L.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            x, y = batch
            return _loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    model = w["make"]()
    t0 = time.perf_counter()
    loader = DataLoader(TensorDataset(w["X"], w["y"]), batch_size=w["batch_size"], shuffle=True)
    trainer = L.Trainer(
        max_epochs=w["epochs"],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Module(model), loader)
    return time.perf_counter() - t0, model


def bench(w, repeats: int, L) -> dict[str, float]:
    n_items = len(w["X"]) * w["epochs"] * w["per_sample"]
    best: dict[str, float] = {}
    models = {}
    runners = {"plain": run_plain, "trainer": run_trainer}
    if L is not None:
        runners["lightning"] = lambda w_: run_lightning(w_, L)
    for _ in range(repeats):
        for name, fn in runners.items():
            seconds, models[name] = fn(w)
            best[name] = min(best.get(name, math.inf), seconds)
    rates = {name: n_items / s for name, s in best.items()}
    diff = max(
        (a - b).abs().max().item()
        for a, b in zip(models["plain"].state_dict().values(), models["trainer"].state_dict().values())
    )
    rates["max_weight_diff"] = diff
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--repeats", type=int, default=None, help="alternating repeats (best is kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 5)
    L = _lightning()
    print(
        f"torch {torch.__version__}, {threads} thread(s), repeats={repeats}, "
        f"lightning: {'yes' if L else 'not installed'}"
    )
    overheads = {}
    extra = []
    for make in (_mlp_workload, _gpt_workload):
        w = make(args.quick)
        r = bench(w, repeats, L)
        over = r["plain"] / r["trainer"] - 1
        overheads[w["name"]] = over
        line = (
            f"{w['name']:4s} ({w['epochs']} epochs, batch {w['batch_size']}): "
            f"plain {r['plain']:,.0f} {w['unit']} | trainer {r['trainer']:,.0f} ({over:+.1%} time)"
        )
        if "lightning" in r:
            lover = r["plain"] / r["lightning"] - 1
            line += f" | lightning {r['lightning']:,.0f} ({lover:+.1%})"
            extra.append(f"{w['name']}_lightning={lover:.4f}")
        line += f" | max |w_plain - w_trainer| = {r['max_weight_diff']:.1e}"
        print(line, flush=True)
        extra.append(f"{w['name']}_plain={r['plain']:.0f} {w['name']}_trainer={r['trainer']:.0f}")
    worst = max(overheads.values())
    print(
        f"RESULT trainer_overhead={worst:.4f} "
        + " ".join(f"{k}={v:.4f}" for k, v in overheads.items())
        + " "
        + " ".join(extra)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
