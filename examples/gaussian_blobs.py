"""Two Gaussian blobs
==================

The lecture's first example (see the gallery's introduction): separating signal from background
in two dimensions. Signal is drawn from a 2-D Gaussian with mean (1, 1) and sigma 1 (label 1),
background with mean (-1, -1) (label 0). A network with one hidden layer of 100 ReLU units and a
sigmoid output, trained for up to 100 epochs, approaches the Bayes limit of 0.921 on 10,000
fresh points. Saves the decision boundary to examples/output/gaussian_blobs.png when matplotlib
is installed (to ``$SKLNN_EXAMPLES_OUTPUT`` when set: the documentation's gallery shows it from
there).

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the gallery runs it) trains on 2,000 points for
20 epochs.
"""

# sphinx_gallery_thumbnail_path = "full_runs/gaussian_blobs/gaussian_blobs.png"

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklnn import MLPClassifierGPU
from sklnn.datasets import make_gaussian_blobs


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="2,000 points, 20 epochs: a smoke run in seconds")
    args = parser.parse_args()
    n_train, epochs = (2000, 20) if args.quick else (10_000, 100)
    X, y = make_gaussian_blobs(n_train, random_state=0)
    X_test, y_test = make_gaussian_blobs(10_000, random_state=1)
    with warnings.catch_warnings():
        if args.quick:  # too few epochs to converge, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifierGPU(hidden_layer_sizes=(100,), max_iter=epochs,
                               random_state=0).fit(X, y)
    print(f"{n_train:,} training points, {clf.n_iter_} epochs run"
          + (" (quick run)" if args.quick else "") + f", final training loss {clf.loss_:.4f}")
    print(f"test accuracy on 10,000 fresh points: {clf.score(X_test, y_test):.4f} "
          "(the Bayes limit is 0.921)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    grid = np.linspace(-4, 4, 200)
    xx, yy = np.meshgrid(grid, grid)
    proba = clf.predict_proba(np.column_stack([xx.ravel(), yy.ravel()]))[:, 1]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(xx, yy, proba.reshape(xx.shape), levels=20, cmap="coolwarm", alpha=0.6)
    ax.scatter(*X_test[:500].T, c=y_test[:500], cmap="coolwarm", s=5, edgecolors="k",
               linewidths=0.2)
    ax.set(title="P(signal | x)", xlabel="x1", ylabel="x2")
    out = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT") or Path(__file__).parent / "output")
    out.mkdir(exist_ok=True)
    fig.savefig(out / "gaussian_blobs.png", dpi=100)
    print("decision boundary drawn to gaussian_blobs.png")


if __name__ == "__main__":
    main()
