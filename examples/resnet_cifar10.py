"""ResNets on CIFAR-10 (GPU)
==========================

The CIFAR-10 experiment of He et al. (2015, section 4.2, Table 6) with ``ResNetClassifier``.
Point ``--data`` at the extracted "CIFAR-10 python version" directory (``data_batch_1`` ...
``data_batch_5``, ``test_batch``); nothing is downloaded. The recipe is the paper's: SGD with
momentum 0.9, weight decay 1e-4, batch 128, learning rate 0.1 divided by 10 at 50% and 75% of
training (the paper's 32k and 48k of 64k iterations, about 164 epochs), 4-pixel pad + random
crop and horizontal flips, per-channel standardisation. The paper's test errors: ResNet-20
8.75%, ResNet-32 7.51%, ResNet-44 7.17%, ResNet-56 6.97%, ResNet-110 6.43% (mean of 5 runs: 6.61
+- 0.16).

Usage:
    python examples/resnet_cifar10.py --data ~/data/cifar-10-batches-py --depths 20 56 110
    python examples/resnet_cifar10.py --data DIR --epochs 2 --limit 2000   # smoke run
    python examples/resnet_cifar10.py --data DIR --quick   # ResNet-20, 1,000 images, 1 epoch

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``) changes the defaults to ``--depths 20 --epochs 1
--limit 1000``. The documentation's gallery shows this example without running it: it needs the
CIFAR-10 files and, at full length, a GPU; the figure beside it shows the paper's results.
"""

# sphinx_gallery_thumbnail_path = "full_runs/resnet_cifar10/resnet_cifar10.png"

import argparse
import os
import pickle
import time
from pathlib import Path

import numpy as np

from sklnn import ResNetClassifier
from sklnn.callbacks import EpochLogger

PAPER_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}


def load_batches(directory: Path, names):
    images, labels = [], []
    for name in names:
        with open(directory / name, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="directory with data_batch_1..5 and test_batch")
    parser.add_argument("--depths", type=int, nargs="+", default=None,
                        help="20 56 110, or 20 with --quick")
    parser.add_argument("--epochs", type=int, default=None, help="164, or 1 with --quick")
    parser.add_argument("--shortcut", default="A", choices=["A", "B"])
    parser.add_argument("--limit", type=int, default=None,
                        help="use only this many training images (smoke runs)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="ResNet-20, 1,000 training images, 1 epoch: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.depths = args.depths or [20]
        args.epochs = args.epochs or 1
        args.limit = args.limit or 1000
    args.depths = args.depths or [20, 56, 110]
    args.epochs = args.epochs or 164

    X_train, y_train = load_batches(args.data, [f"data_batch_{i}" for i in range(1, 6)])
    X_test, y_test = load_batches(args.data, ["test_batch"])
    if args.limit:
        X_train, y_train = X_train[: args.limit], y_train[: args.limit]
    # per-channel standardisation with training statistics, as the paper's mean subtraction
    mean = X_train.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    std = X_train.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    X_train = ((X_train - mean) / std).astype(np.float32)
    X_test = ((X_test - mean) / std).astype(np.float32)

    rows = []
    for depth in args.depths:
        clf = ResNetClassifier(depth=depth, shortcut=args.shortcut, max_iter=args.epochs,
                               learning_rate="step", shift_range=4, horizontal_flip=True,
                               random_state=0, device=args.device, precision=args.precision,
                               callbacks=[EpochLogger()])
        start = time.perf_counter()
        clf.fit(X_train, y_train, validation_data=(X_test, y_test))
        minutes = (time.perf_counter() - start) / 60
        error = 100 * (1 - clf.score(X_test, y_test))
        n_params = clf.summary(print_fn=None).total_params
        rows.append((depth, n_params, error, minutes))
        paper = PAPER_TEST_ERROR.get(depth)
        paper = "not in the paper" if paper is None else f"paper {paper:.2f}%"
        if args.quick:  # the paper's error is for 164 epochs on 50,000 images
            paper = "quick run"
        print(f"ResNet-{depth}: test error {error:.2f}% ({paper}), {minutes:.1f} min on "
              f"{clf.device_}", flush=True)

    print(f"\n{'network':<12}{'params':>10}{'test error':>12}{'paper':>8}{'minutes':>9}")
    for depth, n_params, error, minutes in rows:
        paper = PAPER_TEST_ERROR.get(depth)
        paper = "-" if paper is None or args.quick else f"{paper:.2f}%"
        print(f"ResNet-{depth:<5}{n_params / 1e6:>9.2f}M{error:>11.2f}%{paper:>8}{minutes:>9.1f}")


if __name__ == "__main__":
    main()
