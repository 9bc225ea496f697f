"""Transfer learning with your own module
=======================================

A small convolutional network of our own (a PyTorch ``nn.Module`` with a ``body`` and a
``head``) is pretrained with :class:`sklnn.NeuralNetClassifier` on the digits 0 to 4 of the
MNIST test set that ships with sklnn. Its body is then reused for a new task, the digits
5 to 9, from only a few labelled images: :class:`sklnn.callbacks.Freezer` keeps the
pretrained body fixed while a new head trains, and :class:`sklnn.callbacks.Unfreezer`
lets the whole network fine-tune for the last epochs. A network trained from scratch on
the same few images is the baseline.

The three accuracies are drawn to ``examples/output/transfer_learning.png`` (to
``$SKLNN_EXAMPLES_OUTPUT`` when set: the documentation's gallery shows it from there).

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation builds it) uses fewer
images and epochs: a smoke run in seconds, whose numbers are not the full run's.

Usage: python examples/transfer_learning.py [--quick]
"""

# sphinx_gallery_thumbnail_path = "full_runs/transfer_learning/transfer_learning.png"

import argparse
import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from torch import nn  # noqa: E402

from sklnn import NeuralNetClassifier  # noqa: E402
from sklnn.callbacks import Freezer, Unfreezer  # noqa: E402
from sklnn.datasets import load_mnist_test  # noqa: E402

OUTPUT = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT")
              or Path(__file__).resolve().parent / "output")


class DigitNet(nn.Module):
    """Two convolutions (the body, which learns strokes) and a linear head (which maps
    them to classes)."""

    def __init__(self, n_outputs, channels=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(2 * channels * 5 * 5, n_outputs)

    def forward(self, X):
        return self.head(self.body(X))


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="fewer images and epochs: a smoke run in seconds")
    args = parser.parse_args()
    quick = args.quick
    warnings.simplefilter("ignore", ConvergenceWarning)  # short fits, on purpose

    images, labels = load_mnist_test(return_X_y=True)  # (10000, 28, 28) floats in [0, 1]
    X = images[:, None]  # the module takes (n, 1, 28, 28), as X is passed as it is
    old, new = labels < 5, labels >= 5
    rng = np.random.RandomState(0)
    new_rows = rng.permutation(np.flatnonzero(new))
    few = new_rows[:100 if quick else 200]  # the labelled images of the new task
    test = new_rows[-500 if quick else -3000:]
    pretrain = np.flatnonzero(old)[:1000 if quick else None]
    epochs = 2 if quick else 10
    common = dict(batch_size=64, learning_rate_init=0.002, random_state=0)

    # 1. pretrain on the old task (digits 0-4)
    source = NeuralNetClassifier(DigitNet, module__n_outputs=5, max_iter=epochs, **common)
    source.fit(X[pretrain], labels[pretrain])
    print(f"pretrained on digits 0-4: {len(pretrain)} images, {source.n_iter_} epochs"
          + (" (quick run)" if quick else ""))

    # 2. a new network for the new task, starting from the pretrained body
    net = DigitNet(n_outputs=5)
    net.body.load_state_dict(source.module_.body.state_dict())
    y_few, y_test = labels[few] - 5, labels[test] - 5
    fine_epochs = 6 if quick else 40
    frozen = NeuralNetClassifier(net, max_iter=fine_epochs, callbacks=[Freezer("body.*")],
                                 **common).fit(X[few], y_few)
    tuned = NeuralNetClassifier(net, max_iter=fine_epochs, callbacks=[
        Freezer("body.*"), Unfreezer("body.*", at_epoch=fine_epochs // 2)],
        **common).fit(X[few], y_few)
    scratch = NeuralNetClassifier(DigitNet, module__n_outputs=5, max_iter=fine_epochs,
                                  **common).fit(X[few], y_few)
    unchanged = all(torch.equal(a, b) for a, b in zip(
        frozen.module_.body.state_dict().values(), net.body.state_dict().values()))

    scores = {"frozen pretrained body,\nnew head": frozen.score(X[test], y_test),
              "then the whole network\nfine-tuned": tuned.score(X[test], y_test),
              "the same network\nfrom scratch": scratch.score(X[test], y_test)}
    print(f"digits 5-9 from {len(few)} labelled images, accuracy on {len(test)} others:")
    for (name, score), note in zip(scores.items(), [f"  (body unchanged: {unchanged})", "", ""]):
        print(f"  {name.replace(chr(10), ' ') + ':':<36}{score:.3f}{note}")

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(list(scores), list(scores.values()), color=["C0", "C2", "C7"])
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel=f"accuracy on {len(test):,} images of digits 5-9",
           title=f"Digits 5-9 from {len(few)} labelled images"
           + (" (quick run)" if quick else ""))
    for row, score in enumerate(scores.values()):
        ax.text(score + 0.01, row, f"{score:.3f}", va="center")
    fig.tight_layout()
    OUTPUT.mkdir(exist_ok=True)
    fig.savefig(OUTPUT / "transfer_learning.png", dpi=110)
    plt.close(fig)
    print("drawn: transfer_learning.png")


if __name__ == "__main__":
    main()
