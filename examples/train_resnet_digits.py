"""Train a small ResNet on the 8x8 digits with classical.Trainer (about a minute on 2 CPU cores).

Residual blocks with batch norm, AdamW with a one-cycle schedule, early stopping on validation loss,
the best checkpoint kept, a progress bar, CSV/JSON logs. Prints test accuracy (target: >= 97 %).

    python examples/train_resnet_digits.py [--epochs 30] [--accelerator auto] [--out runs/resnet_digits]
"""

import argparse
import time

from qhybrid.classical import (
    EarlyStopping,
    LRMonitor,
    ModelCheckpoint,
    ProgressBar,
    ResNet,
    Trainer,
    count_parameters,
    load_dataset,
    set_threads,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--precision", default="32")
    parser.add_argument("--out", default="runs/resnet_digits")
    args = parser.parse_args()
    set_threads()

    data = load_dataset("digits", test_size=0.25, random_state=0)
    # Validation comes out of the training part; the test part is touched once, at the end.
    n_val = len(data.X_train) // 6
    train = (data.X_train[n_val:], data.y_train[n_val:])
    val = (data.X_train[:n_val], data.y_train[:n_val])

    model = ResNet(num_classes=data.n_classes, image_shape=(1, 8, 8), widths=(16, 32, 64), blocks=1)
    ckpt = ModelCheckpoint(f"{args.out}/checkpoints", monitor="val_acc", mode="max")
    trainer = Trainer(
        max_epochs=args.epochs,
        batch_size=64,
        optimizer="adamw",
        lr=3e-3,
        weight_decay=1e-4,
        scheduler="onecycle",
        accelerator=args.accelerator,
        precision=args.precision,
        seed=0,
        callbacks=[EarlyStopping("val_loss", patience=8), ckpt, LRMonitor(), ProgressBar()],
        log_dir=args.out,
    )
    print(
        f"ResNet: {count_parameters(model):,} parameters on {trainer.accelerator}; "
        f"{len(train[0])} train / {len(val[0])} val / {len(data.X_test)} test digits"
    )
    t0 = time.perf_counter()
    trainer.fit(model, train, val)
    elapsed = time.perf_counter() - t0

    best = ResNet(num_classes=data.n_classes, image_shape=(1, 8, 8), widths=(16, 32, 64), blocks=1)
    best.load_state_dict(Trainer.load_checkpoint(ckpt.best_model_path)["model"])
    test = trainer.evaluate(best, (data.X_test, data.y_test))
    speed = sum(h["samples_per_s"] for h in trainer.history) / len(trainer.history)
    print(
        f"{len(trainer.history)} epochs in {elapsed:.1f} s ({speed:,.0f} samples/s); "
        f"best val_acc {ckpt.best_score:.4f}; stop: {trainer.stop_reason or 'max_epochs'}"
    )
    print(f"test accuracy {test['acc']:.4f} (loss {test['loss']:.4f}); logs in {args.out}/metrics.csv")


if __name__ == "__main__":
    main()
