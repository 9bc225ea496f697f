"""sklnn next to scikit-learn (make demo)
======================================

What ``make demo`` runs. ``MLPClassifierGPU`` trains the same 784-300-100-10 network as
scikit-learn's ``MLPClassifier``, with the same settings, on 8,000 images of the MNIST test set
that ships with sklnn, and both are scored on the other 2,000; then the Gaussian-blobs problem
of the lecture (see the gallery's introduction) is learnt to its Bayes limit.

The comparison is fair on a busy machine: both libraries get the same thread budget (one thread
unless ``--threads`` says otherwise: torch's intra-op threads for sklnn, the BLAS threads for
scikit-learn) and the table reports CPU seconds beside wall seconds, since wall time also
counts what other processes took. Both train for a fixed 20 epochs, so neither converges and
neither warns about it. With matplotlib installed the timings are drawn to
``examples/output/demo.png``.

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation's gallery runs it) trains on
2,000 images for 3 epochs and on 2,000 blobs for 20 epochs: a smoke run in seconds.
"""

# sphinx_gallery_thumbnail_path = "full_runs/demo/demo.png"

import argparse
import os
import time
import warnings
from pathlib import Path

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from sklnn import MLPClassifierGPU
from sklnn.datasets import make_gaussian_blobs, mnist_train_test_split

OUTPUT = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT")
              or Path(__file__).resolve().parent / "output")


def timed_fit(model, X, y):
    """Fit, and return (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for each library (default 1: steady on a busy machine)")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="small data, few epochs: a smoke run in seconds")
    args = parser.parse_args()
    # Both libraries stop after a fixed number of epochs, on purpose.
    warnings.simplefilter("ignore", ConvergenceWarning)
    # torch's threads (sklnn never uses more than this) and numpy's BLAS threads
    # (scikit-learn) get the same budget.
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        run(args.quick, args.threads)


def run(quick, threads):
    n_train, epochs, n_blobs, blob_epochs = ((2000, 3, 2000, 20) if quick
                                             else (8000, 20, 10_000, 100))
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True, n_train=n_train)
    print(f"MNIST, {n_train:,} training and 2,000 test images (bundled), 784-300-100-10, "
          f"{epochs} epochs, {threads} thread{'s' if threads > 1 else ''} each"
          + (" (quick run)" if quick else ""))
    print(f"  {'library':<24}{'test accuracy':>14}{'fit wall s':>12}{'fit CPU s':>11}")
    settings = dict(hidden_layer_sizes=(300, 100), max_iter=epochs, random_state=0)
    timings = {}
    for name, model in [("sklnn.MLPClassifierGPU", MLPClassifierGPU(**settings)),
                        ("sklearn.MLPClassifier", MLPClassifier(**settings))]:
        wall, cpu = timed_fit(model, X_train, y_train)
        timings[name] = (wall, cpu)
        print(f"  {name:<24}{model.score(X_test, y_test):>14.4f}{wall:>12.1f}{cpu:>11.1f}")
        if isinstance(model, MLPClassifierGPU):
            clf = model
    print(f"  sklnn trained on: {clf.device_}")
    clf.summary(print_fn=print)

    X, y = make_gaussian_blobs(n_blobs, random_state=0)
    X_new, y_new = make_gaussian_blobs(10_000, random_state=1)
    blobs = MLPClassifierGPU(hidden_layer_sizes=(100,), max_iter=blob_epochs,
                             random_state=0).fit(X, y)
    print(f"\nGaussian blobs, 2-100-1 network, {blob_epochs} epochs: accuracy on 10,000 fresh "
          f"points {blobs.score(X_new, y_new):.4f} (the Bayes limit is 0.921)")
    draw(timings, threads)


def draw(timings, threads):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the demo draws only when matplotlib is there
        return
    names = list(timings)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    rows = range(len(names))
    ax.barh([r + 0.2 for r in rows], [timings[n][0] for n in names], height=0.4,
            label="wall s", color="C0")
    ax.barh([r - 0.2 for r in rows], [timings[n][1] for n in names], height=0.4,
            label="CPU s", color="C1")
    ax.set_yticks(list(rows), names)
    ax.invert_yaxis()
    ax.set(xlabel="seconds", title=f"MNIST MLP fit, {threads} thread{'s' if threads > 1 else ''}"
           " each")
    ax.legend(loc="lower right")
    fig.tight_layout()
    OUTPUT.mkdir(exist_ok=True)
    fig.savefig(OUTPUT / "demo.png", dpi=110)
    plt.close(fig)
    print("timings drawn to demo.png")


if __name__ == "__main__":
    main()
