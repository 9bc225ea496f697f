"""Degradation: plain and residual networks
=========================================

He et al. (2015, Fig. 1 and 6) on small images.

Trains plain-20, plain-56, ResNet-20 and ResNet-56 for the same number of epochs with the same
recipe on scikit-learn's 8x8 digits (1,347 training / 450 test images) and records the training
error (eval mode, after each epoch) and test error. Without skip connections the deeper network
trains worse than the shallower one; with them, depth stops hurting. Batch 32 (weight decay
kept at 1e-4 per step) gives 43 steps per epoch; at batch 128 (11 steps per epoch) 20 epochs are
too few for either 56-layer network.

Saves ``examples/output/resnet_degradation_batch{N}.png`` (to ``$SKLNN_EXAMPLES_OUTPUT`` when
set: the documentation's gallery shows it from there).

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the gallery runs it) trains on 300 images for 2
epochs: a smoke run in seconds that shows nothing about depth.

Usage: python examples/resnet_degradation.py [--epochs 20] [--batch-size 32] [--device auto]
[--quick]
"""

# sphinx_gallery_thumbnail_path = "full_runs/resnet_degradation/resnet_degradation_batch32.png"

import argparse
import os
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sklnn import ResNetClassifier  # noqa: E402
from sklnn.callbacks import Callback  # noqa: E402

OUTPUT = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT")
              or Path(__file__).resolve().parent / "output")


class TrainingError(Callback):
    """Classification error on the whole training set after every epoch, in eval mode."""

    def __init__(self, X, y):
        self.X = X
        self.y = y

    def on_train_begin(self, trainer, **kwargs):
        self.errors_ = []

    def on_epoch_end(self, trainer, *, record, **kwargs):
        module = trainer.module
        parameter = next(module.parameters())
        module.eval()
        with torch.inference_mode():
            rows = torch.as_tensor(self.X, device=parameter.device, dtype=parameter.dtype)
            predicted = module(rows).argmax(1).cpu().numpy()
        module.train()
        self.errors_.append(float(np.mean(predicted != self.y)))


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="20, or 2 with --quick")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="300 training images, 2 epochs: a smoke run in seconds")
    args = parser.parse_args()
    args.epochs = args.epochs or (2 if args.quick else 20)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        (X / 16.0).astype(np.float32), y, test_size=0.25, stratify=y, random_state=0
    )
    if args.quick:
        X_train, y_train = X_train[:300], y_train[:300]
    print(f"{len(y_train):,} training images, {args.epochs} epochs, batch {args.batch_size}"
          + (" (quick run: too short to show anything about depth)" if args.quick else ""))
    results = {}
    for residual in (False, True):
        for depth in (20, 56):
            name = f"{'ResNet' if residual else 'plain'}-{depth}"
            training_error = TrainingError(X_train, y_train)  # labels 0..9 are their own indices
            # n_iter_no_change=epochs: every network runs all epochs, even on a plateau
            clf = ResNetClassifier(depth=depth, residual=residual, max_iter=args.epochs,
                                   batch_size=args.batch_size, alpha=1e-4 * args.batch_size,
                                   n_iter_no_change=args.epochs, random_state=0,
                                   device=args.device, callbacks=[training_error])
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                clf.fit(X_train, y_train, validation_data=(X_test, y_test))
            for warning in caught:  # a deep plain network's loss may explode: say so plainly
                if issubclass(warning.category, RuntimeWarning):
                    print(f"{name}: {warning.message}")
                else:
                    warnings.showwarning(warning.message, warning.category, warning.filename,
                                         warning.lineno)
            test_errors = [1 - r["valid_score"] for r in clf.history_]
            results[name] = (training_error.errors_, test_errors)
            print(f"{name:<10} final training loss {clf.loss_curve_[-1]:.4f}  "
                  f"final training error {training_error.errors_[-1]:.4f}  "
                  f"test error {test_errors[-1]:.4f}  "
                  f"mean training error over epochs {np.mean(training_error.errors_):.4f}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    OUTPUT.mkdir(exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    styles = {"20": "-", "56": "--"}
    for ax, residual in zip(axes, ("plain", "ResNet")):
        for depth in ("20", "56"):
            train_err, test_err = results[f"{residual}-{depth}"]
            epochs = np.arange(1, len(train_err) + 1)
            color = "C0" if depth == "20" else "C3"
            ax.plot(epochs, 100 * np.array(train_err), styles[depth], color=color, lw=1,
                    label=f"{residual}-{depth} train")
            ax.plot(epochs, 100 * np.array(test_err), styles[depth], color=color, lw=2.5,
                    alpha=0.5, label=f"{residual}-{depth} test")
        ax.set(title=f"{residual} networks", xlabel="epoch", ylim=(0, 100))
        ax.legend()
    axes[0].set_ylabel("error (%)")
    fig.suptitle("8x8 digits: thin lines training error, thick lines test error"
                 + (" (quick run)" if args.quick else ""))
    fig.tight_layout()
    path = OUTPUT / f"resnet_degradation_batch{args.batch_size}.png"
    fig.savefig(path, dpi=120)
    print(f"drawn: {path.name}")


if __name__ == "__main__":
    main()
