"""ResNet-20 (He et al. 2015) on the MNIST test set bundled with sklnn: 8,000 train / 2,000 test.
==============================================================================================

The paper's CIFAR recipe as ResNetClassifier's defaults (SGD, momentum 0.9, lr 0.1, batch 128,
weight decay 1e-4), a cosine schedule over a few epochs and random 2-pixel shifts. Target:
>= 0.985 test accuracy on CPU. Measured: 0.990 after 6 epochs, 22 minutes on 2 CPU cores shared
with other jobs (see docs/images.md).

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation's gallery runs it) trains on
500 images for 2 epochs and tests on 250: a smoke run in seconds, not the result above.

Usage: python examples/resnet_mnist.py [--epochs 6] [--depth 20] [--device auto] [--quick]
"""

import argparse
import os
import time

from sklnn import ResNetClassifier
from sklnn.callbacks import EpochLogger
from sklnn.datasets import mnist_train_test_split


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
    clf = ResNetClassifier(depth=args.depth, max_iter=epochs, shift_range=args.shift,
                           random_state=0, device=args.device,
                           callbacks=[EpochLogger()])
    start = time.perf_counter()
    clf.fit(X_train, y_train, validation_data=(X_test, y_test))
    seconds = time.perf_counter() - start
    n_params = clf.summary(print_fn=None).total_params
    for record in clf.history_:
        print(f"epoch {record['epoch']:3d}  train loss {record['train_loss']:.4f}  "
              f"test accuracy {record['valid_score']:.4f}  lr {record['lr']:.4f}  "
              f"{record['duration']:.0f} s")
    print(f"ResNet-{args.depth} ({n_params:,} parameters): test accuracy "
          f"{clf.score(X_test, y_test):.4f} (target >= 0.985); {clf.n_iter_} epochs in "
          f"{seconds:.0f} s on {clf.device_}")


if __name__ == "__main__":
    main()
