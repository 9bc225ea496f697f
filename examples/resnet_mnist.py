"""ResNet-20 on MNIST
==================

ResNet-20, the smallest of the CIFAR networks of He et al. (2015), with the paper's CIFAR recipe
as ``ResNetClassifier``'s defaults (SGD, momentum 0.9, learning rate 0.1, batch 128, weight
decay 1e-4), a cosine schedule over 6 epochs and random 2-pixel shifts, on the MNIST test set
bundled with sklnn: 8,000 training and 2,000 test images. Target: >= 0.985 test accuracy on a
CPU. The full-length run below took 16 minutes on 2 busy CPU cores. Draws the loss and the
test accuracy per epoch to ``examples/output/resnet_mnist.png`` (to ``$SKLNN_EXAMPLES_OUTPUT``
when set: the documentation's gallery shows it from there).

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation's gallery runs it) trains on
500 images for 2 epochs and tests on 250: a smoke run in seconds.

Usage: python examples/resnet_mnist.py [--epochs 6] [--depth 20] [--device auto] [--quick]
"""

# sphinx_gallery_thumbnail_path = "full_runs/resnet_mnist/resnet_mnist.png"

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklnn import ResNetClassifier  # noqa: E402
from sklnn.callbacks import EpochLogger  # noqa: E402
from sklnn.datasets import mnist_train_test_split  # noqa: E402
from sklnn.plot import TrainingCurveDisplay  # noqa: E402

OUTPUT = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT")
              or Path(__file__).resolve().parent / "output")


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="6, or 2 with --quick")
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--shift", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="500 training images, 2 epochs: a smoke run in seconds")
    args = parser.parse_args()
    epochs = args.epochs or (2 if args.quick else 6)

    sizes = dict(n_train=500, n_test=250) if args.quick else {}
    # (n, 28, 28) float32 in [0, 1]
    X_train, X_test, y_train, y_test = mnist_train_test_split(**sizes)
    # EpochLogger prints each epoch's losses and test accuracy (valid_score) as it ends
    clf = ResNetClassifier(depth=args.depth, max_iter=epochs, shift_range=args.shift,
                           random_state=0, device=args.device,
                           callbacks=[EpochLogger()])
    start = time.perf_counter()
    clf.fit(X_train, y_train, validation_data=(X_test, y_test))
    seconds = time.perf_counter() - start
    n_params = clf.summary(print_fn=None).total_params
    target = " (quick run)" if args.quick else " (target >= 0.985)"
    print(f"ResNet-{args.depth} ({n_params:,} parameters), {len(y_train):,} training images: "
          f"test accuracy {clf.score(X_test, y_test):.4f}{target}; {clf.n_iter_} epochs in "
          f"{seconds:.0f} s on {clf.device_}")

    fig, ax = plt.subplots(figsize=(7, 4))
    curves = TrainingCurveDisplay.from_estimator(clf, ax=ax)
    curves.ax_.set(ylabel="cross-entropy", title=f"ResNet-{args.depth}: loss and test accuracy"
                   + (" (quick run)" if args.quick else ""))
    curves.score_ax_.set_ylabel("test accuracy")
    fig.tight_layout()
    OUTPUT.mkdir(exist_ok=True)
    fig.savefig(OUTPUT / "resnet_mnist.png", dpi=120)
    plt.close(fig)
    print("drawn: resnet_mnist.png")


if __name__ == "__main__":
    main()
