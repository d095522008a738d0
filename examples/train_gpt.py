"""Train a small character-level GPT on Python's own help texts, then let it write (about a minute).

The corpus is ``pydoc_data/topics.py`` from the standard library (no download); the model is a 2-layer,
d=64 causal transformer (classical.GPT). Reports validation perplexity per epoch and samples text.

    python examples/train_gpt.py [--epochs 3] [--prompt "The with statement"] [--bf16]
"""

import argparse
import time

import torch

from qhybrid.classical import (
    GPT,
    GPTConfig,
    LRMonitor,
    ProgressBar,
    Trainer,
    char_lm_datasets,
    count_parameters,
    set_threads,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision")
    parser.add_argument("--prompt", default="The with statement")
    parser.add_argument("--tokens", type=int, default=300)
    args = parser.parse_args()
    set_threads()

    train, val, tok = char_lm_datasets(block_size=args.block_size, val_fraction=0.1)
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=tok.vocab_size, block_size=args.block_size, n_layer=2, n_head=4, n_embd=64)
    )
    trainer = Trainer(
        max_epochs=args.epochs,
        batch_size=32,
        optimizer="adamw",
        lr=3e-3,
        weight_decay=0.01,
        scheduler="cosine",
        gradient_clip_val=1.0,
        accelerator=args.accelerator,
        precision="bf16-mixed" if args.bf16 else "32",
        callbacks=[LRMonitor(), ProgressBar(refresh_rate=50)],
    )
    print(
        f"GPT: {count_parameters(model):,} parameters, vocabulary {tok.vocab_size} characters, "
        f"{len(train) * args.block_size:,} training tokens, on {trainer.accelerator}"
    )
    t0 = time.perf_counter()
    trainer.fit(model, train.tensors(), val.tensors())
    for h in trainer.history:
        print(
            f"epoch {h['epoch']}: train loss {h['train_loss']:.3f}, val perplexity {h['val_ppl']:.2f}, "
            f"{h['tokens_per_s']:,.0f} tokens/s"
        )
    print(f"trained in {time.perf_counter() - t0:.1f} s\n")

    prompt = tok.encode(args.prompt).unsqueeze(0).to(trainer.device)
    out = model.generate(prompt, args.tokens, temperature=0.8, top_k=10, generator=None)
    print("--- sample ---")
    print(tok.decode(out[0].cpu()))


if __name__ == "__main__":
    main()
