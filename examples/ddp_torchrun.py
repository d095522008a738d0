"""Data-parallel training on 2 processes: the same Trainer code, launched by torchrun (about a minute).

    torchrun --nproc-per-node 2 examples/ddp_torchrun.py     # gloo on CPU, nccl on GPUs
    python examples/ddp_torchrun.py                          # launches 2 local processes itself

Under torchrun, ``Trainer(strategy="auto")`` finds the process group environment, wraps the model in
DistributedDataParallel, gives each rank its shard of every batch, averages the metrics and lets
only rank 0 log and checkpoint. The script then checks that both replicas hold identical weights and
that they equal a single-process run on the same global batch, and tears the group down cleanly.
"""

import os

import torch
import torch.distributed as dist

from qhybrid.classical import MLP, Trainer, cleanup, launch, load_dataset, set_threads

BATCH_PER_RANK = 32


def train(batch_size: int, strategy: str) -> tuple[torch.Tensor, list[dict]]:
    data = load_dataset("digits", random_state=0)
    torch.manual_seed(0)
    model = MLP(data.n_features, data.n_classes, hidden=(256, 256))
    trainer = Trainer(
        max_epochs=10,
        batch_size=batch_size,
        optimizer="sgd",
        lr=0.05,
        strategy=strategy,
        accelerator="cpu",
        seed=0,
    )
    # A whole number of global batches: with a ragged tail, DDP pads the last shard (as
    # DistributedSampler does) and its last step would differ from the single-process one.
    n = len(data.X_train) // (2 * BATCH_PER_RANK) * (2 * BATCH_PER_RANK)
    trainer.fit(model, (data.X_train[:n], data.y_train[:n]), (data.X_test, data.y_test))
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    history = trainer.history
    del trainer, model  # free DDP reducer and optimiser before the group goes away
    return flat, history


def ddp_main() -> tuple[torch.Tensor, list[dict]]:
    """What each rank runs."""
    flat, history = train(BATCH_PER_RANK, "auto")
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    if dist.get_rank() == 0:
        same = all(torch.equal(gathered[0], g) for g in gathered)
        print(f"[rank 0 of {dist.get_world_size()}] replicas identical: {same}")
        for h in history[-3:]:
            print(
                f"  epoch {h['epoch']:2d}: train loss {h['train_loss']:.4f}, test acc {h['val_acc']:.4f}, "
                f"{h['samples_per_s']:,.0f} samples/s per rank"
            )
    return flat, history


def main() -> None:
    if "LOCAL_RANK" in os.environ:  # started by torchrun
        set_threads()
        flat, _ = ddp_main()
        world = dist.get_world_size()
        if dist.get_rank() == 0:
            ref, _ = train(BATCH_PER_RANK * world, "single")
            print(
                f"max |w_ddp - w_single| = {(flat - ref).abs().max():.2e} "
                f"(single process, batch {BATCH_PER_RANK * world})"
            )
        cleanup()
        return
    results = launch(ddp_main, nprocs=2)
    ref, _ = train(BATCH_PER_RANK * 2, "single")
    print(
        f"max |w_ddp - w_single| = {(results[0][0] - ref).abs().max():.2e} (single process, batch {BATCH_PER_RANK * 2})"
    )


if __name__ == "__main__":
    main()
