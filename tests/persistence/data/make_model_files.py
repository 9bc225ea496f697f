"""Write the model files in ``format1/`` and the predictions they must reproduce.

Run from the repository root: ``python tests/persistence/data/make_model_files.py``
(optionally naming the files to rewrite, e.g. ``MLPAutoencoder``). The
files are the file format's reference copies: tests load them and compare with
``expected.npz``, and the fuzz tests mutate them. Rewrite them only with a deliberate
format change.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

import sklnn

FOLDER = Path(__file__).parent / "format1"


def models(X):
    """name -> (unfitted estimator, y) for every saveable estimator and target kind."""
    label = (X[:, 0] > 0.5).astype(int)
    three = np.digitize(X[:, 1], [0.33, 0.66])
    return {
        "MLPClassifierGPU": (sklnn.MLPClassifierGPU(max_iter=3, random_state=0), label),
        "MLPClassifierGPU-multilabel": (
            sklnn.MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
            (X[:, :3] > 0.5).astype(int)),
        "MLPRegressorGPU": (sklnn.MLPRegressorGPU(max_iter=3, random_state=0), X.sum(axis=1)),
        "CNNImageClassifier": (sklnn.CNNImageClassifier(
            filters=(4,), dense_layers=(16,), learning_rate_init=0.01, max_iter=3,
            random_state=0), three),
        "ResNetClassifier": (sklnn.ResNetClassifier(
            depth=8, width=0.25, batch_norm=False, learning_rate_init=0.05, max_iter=3,
            random_state=0), label),
        "RNNClassifier": (sklnn.RNNClassifier(
            cell="gru", hidden_size=8, num_layers=1, learning_rate_init=0.02, max_iter=3,
            random_state=0), three),
        "CNNSequenceClassifier": (sklnn.CNNSequenceClassifier(
            filters=(4, 4), kernel_sizes=(3, 3), max_iter=3, random_state=0), label),
        "RNNForecaster": (sklnn.RNNForecaster(
            cell="gru", hidden_size=8, num_layers=1, learning_rate_init=0.02, max_iter=3,
            random_state=0), X[:, -1] + 0.1),
        "RNNForecaster-sequence": (sklnn.RNNForecaster(
            hidden_size=4, burn_in=2, training_target="sequence", max_iter=3,
            random_state=0), X[:, -1] + 0.1),
        "MLPAutoencoder": (sklnn.MLPAutoencoder(
            n_components=3, hidden_layer_sizes=(8,), max_iter=3, random_state=0), None),
        "ConvAutoencoder": (sklnn.ConvAutoencoder(
            n_components=3, filters=(4,), max_iter=3, random_state=0), None),
    }


def main(names=None) -> None:
    """Write every file, or only those ``names`` (keeping the others and their outputs)."""
    X = np.random.RandomState(0).rand(40, 16)
    expected = {"X": X}
    if names:
        expected.update(np.load(FOLDER / "expected.npz", allow_pickle=False))
        np.testing.assert_array_equal(expected["X"], X)
    FOLDER.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three epochs do not converge, on purpose
        for name, (estimator, y) in models(X).items():
            if names and name not in names:
                continue
            estimator.fit(X, y).save(FOLDER / f"{name}.sklnn")
            # a transformer's reference output is its codes
            expected[name] = (estimator.transform(X) if hasattr(estimator, "transform")
                              else estimator.predict(X))
    np.savez(FOLDER / "expected.npz", **expected)


if __name__ == "__main__":
    main(sys.argv[1:])
