"""The showcase behind `make demo`: sklnn as a drop-in for scikit-learn's MLP on bundled data.
===========================================================================================

Trains MLPClassifierGPU (784-300-100-10) on 8,000 images of the MNIST test set that ships with
the package and scores it on the other 2,000, next to scikit-learn's MLPClassifier with the same
settings; then runs the lecture's Gaussian-blobs example.

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation's gallery runs it) trains on
2,000 images for 3 epochs and on 2,000 blobs for 20 epochs: a smoke run, not the results above.
"""

import argparse
import os
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sklnn import MLPClassifierGPU
from sklnn.datasets import make_gaussian_blobs, mnist_train_test_split


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="small data, few epochs: a smoke run in seconds")
    args = parser.parse_args()
    with warnings.catch_warnings():
        if args.quick:  # too few epochs to converge, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
        run(args.quick)


def run(quick):
    n_train, epochs, n_blobs, blob_epochs = (2000, 3, 2000, 20) if quick else (8000, 20, 10_000,
                                                                              100)
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True, n_train=n_train)
    print(f"MNIST (bundled test set, {n_train:,} train / 2,000 test, stratified), "
          f"784-300-100-10, {epochs} epochs")
    settings = dict(hidden_layer_sizes=(300, 100), max_iter=epochs, random_state=0)
    for name, model in [("sklnn.MLPClassifierGPU", MLPClassifierGPU(**settings)),
                        ("sklearn.MLPClassifier", MLPClassifier(**settings))]:
        seconds = timed_fit(model, X_train, y_train)
        print(f"  {name:<24} test accuracy {model.score(X_test, y_test):.4f}  fit {seconds:.1f} s")
    clf = MLPClassifierGPU(**settings).fit(X_train, y_train)
    print(f"  sklnn trained on: {clf.device_}")
    clf.summary(print_fn=print)

    X, y = make_gaussian_blobs(n_blobs, random_state=0)
    X_new, y_new = make_gaussian_blobs(10_000, random_state=1)
    blobs = MLPClassifierGPU(hidden_layer_sizes=(100,), max_iter=blob_epochs,
                             random_state=0).fit(X, y)
    print(f"\nLecture blobs (2-100-1, sigmoid output): accuracy on 10,000 fresh points "
          f"{blobs.score(X_new, y_new):.4f} (Bayes limit 0.921)")


if __name__ == "__main__":
    main()
