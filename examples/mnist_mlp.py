"""MNIST with a 784-300-100-10 MLP, sklnn against scikit-learn, on the bundled MNIST test set.
===========================================================================================

The 10,000 official MNIST test images ship with sklnn; this splits them 8,000 / 2,000
(stratified). scikit-learn's MLPClassifier reaches about 0.957 there in 20 epochs; the target
for sklnn is >= 0.955 with the same settings. Both get float32 pixels in [0, 1].

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation's gallery runs it) trains on
2,000 images for 3 epochs: a smoke run, not the result above.
"""

import argparse
import os
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sklnn import MLPClassifierGPU
from sklnn.datasets import mnist_train_test_split


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="2,000 images, 3 epochs: a smoke run in seconds")
    args = parser.parse_args()
    n_train, epochs = (2000, 3) if args.quick else (8000, 20)
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True, n_train=n_train)
    settings = dict(hidden_layer_sizes=(300, 100), max_iter=epochs, random_state=0)
    for model in (MLPClassifierGPU(**settings), MLPClassifier(**settings)):
        start = time.perf_counter()
        with warnings.catch_warnings():
            if args.quick:  # too few epochs to converge, on purpose
                warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        print(f"{type(model).__name__:<18} test accuracy {model.score(X_test, y_test):.4f}  "
              f"epochs {model.n_iter_}  fit {seconds:.1f} s")


if __name__ == "__main__":
    main()
