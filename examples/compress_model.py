"""Compress a trained digits classifier and print what each technique buys (well under a minute).

An MLP 64-512-512-10 is trained, then int8-quantised (torchao weight-only and dynamic, when torchao
works with this torch; the native weight-only layer always) and structurally pruned (hidden units
removed, layers rebuilt smaller, then briefly fine-tuned). For each version: parameters, size on
disk, latency of one batch of 256, test accuracy.

    python examples/compress_model.py [--prune 0.75]
"""

import argparse

import torch

from qhybrid.classical import (
    MLP,
    Trainer,
    compression_report,
    format_table,
    load_dataset,
    prune_linear,
    quantize_int8,
    set_threads,
    torchao_available,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prune", type=float, default=0.75, help="fraction of hidden units to remove")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per model (median kept)")
    args = parser.parse_args()
    set_threads()

    data = load_dataset("digits", random_state=0)
    train, test = (data.X_train, data.y_train), (data.X_test, data.y_test)
    torch.manual_seed(0)
    model = MLP(data.n_features, data.n_classes, hidden=(512, 512))
    Trainer(max_epochs=15, lr=1e-3, accelerator="cpu", seed=0).fit(model, train)

    versions = {"fp32": model, "int8 weight-only (native)": quantize_int8(model, backend="native")}
    if torchao_available():
        versions["int8 weight-only (torchao)"] = quantize_int8(model, backend="torchao")
        versions["int8 dynamic (torchao)"] = quantize_int8(model, backend="torchao", mode="dynamic")
    pruned = prune_linear(model, amount=args.prune)
    versions[f"pruned {args.prune:.0%}"] = pruned
    tuned = prune_linear(model, amount=args.prune)
    Trainer(max_epochs=5, lr=1e-3, accelerator="cpu", seed=0).fit(tuned, train)
    versions[f"pruned {args.prune:.0%} + fine-tune"] = tuned
    versions["pruned + fine-tune + int8"] = quantize_int8(tuned, backend="native")

    rows = compression_report(versions, *test, batch_size=256, repeats=args.repeats)
    print(
        f"digits test set ({len(test[0])} samples), torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
    print(format_table(rows))
    print("(latency: median of one batch of 256 on CPU; shared machines make it noisy)")


if __name__ == "__main__":
    main()
