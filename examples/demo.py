"""The showcase behind `make demo`: sklnn as a drop-in for scikit-learn's MLP on bundled data.

Trains MLPClassifierGPU (784-300-100-10) on 8,000 images of the MNIST test set that ships with
the package and scores it on the other 2,000, next to scikit-learn's MLPClassifier with the same
settings; then runs the lecture's Gaussian-blobs example.
"""

import time

from sklearn.neural_network import MLPClassifier

from sklnn import MLPClassifierGPU
from sklnn.datasets import make_gaussian_blobs, mnist_train_test_split


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def main():
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True)
    print("MNIST (bundled test set, 8,000 train / 2,000 test, stratified), "
          "784-300-100-10, 20 epochs")
    settings = dict(hidden_layer_sizes=(300, 100), max_iter=20, random_state=0)
    for name, model in [("sklnn.MLPClassifierGPU", MLPClassifierGPU(**settings)),
                        ("sklearn.MLPClassifier", MLPClassifier(**settings))]:
        seconds = timed_fit(model, X_train, y_train)
        print(f"  {name:<24} test accuracy {model.score(X_test, y_test):.4f}  fit {seconds:.1f} s")
    clf = MLPClassifierGPU(**settings).fit(X_train, y_train)
    print(f"  sklnn trained on: {clf.device_}")
    clf.summary()

    X, y = make_gaussian_blobs(10_000, random_state=0)
    X_new, y_new = make_gaussian_blobs(10_000, random_state=1)
    blobs = MLPClassifierGPU(hidden_layer_sizes=(100,), max_iter=100, random_state=0).fit(X, y)
    print(f"\nLecture blobs (2-100-1, sigmoid output): accuracy on 10,000 fresh points "
          f"{blobs.score(X_new, y_new):.4f} (Bayes limit 0.921)")


if __name__ == "__main__":
    main()
