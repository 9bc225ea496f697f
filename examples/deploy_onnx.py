"""Deploying a Pipeline with ONNX: served by onnxruntime alone
===========================================================

A scaler and an ``MLPClassifierGPU`` in a scikit-learn ``Pipeline`` are trained on MNIST
digits and converted with :func:`sklnn.to_onnx` into one ONNX graph: the scaling, the network,
the softmax and the label lookup. The serving half of this script needs neither sklnn, torch
nor scikit-learn: only ``onnxruntime`` and numpy, as a deployment would have. It checks that
the served labels and probabilities agree with the Pipeline's own, and draws the time each
takes to answer one request of one image and one of a thousand.

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the documentation's gallery runs it) trains on
2,000 images for 3 epochs: a smoke run in seconds.
"""

# sphinx_gallery_thumbnail_path = "full_runs/deploy_onnx/deploy_onnx.png"

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sklnn  # noqa: E402
from sklnn.datasets import mnist_train_test_split  # noqa: E402

OUTPUT = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT")
              or Path(__file__).resolve().parent / "output")


def train_and_export(n_train, epochs, path):
    """The Python side: train, convert, write the model file."""
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True, n_train=n_train)
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                       "eight", "nine"])  # string labels travel into the graph
    pipe = make_pipeline(StandardScaler(), sklnn.MLPClassifierGPU(
        hidden_layer_sizes=(100,), max_iter=epochs, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of epochs
        pipe.fit(X_train, labels[y_train])
    print(f"Pipeline test accuracy {pipe.score(X_test, labels[y_test]):.4f}")
    # the scaler as Sub and Div: onnxruntime runs them faster than its Scaler operator
    model = sklnn.to_onnx(pipe, X_train[:1], options={id(pipe[0]): {"div": "div"}})
    path.write_bytes(model.SerializeToString())
    print(f"ONNX model written: {path.stat().st_size / 1e3:.0f} kB, opset "
          f"{model.opset_import[0].version}, outputs {[o.name for o in model.graph.output]}")
    return pipe, X_test


def serve(path):
    """The serving side: onnxruntime and numpy only."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda X: session.run(None, {"X": np.asarray(X, dtype=np.float32)})


def best_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="2,000 images, 3 epochs: a smoke run in seconds")
    args = parser.parse_args()
    n_train, epochs = (2000, 3) if args.quick else (8000, 20)
    print(f"{n_train:,} training images, {epochs} epochs" + (" (quick run)" if args.quick else ""))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mnist_pipeline.onnx"
        pipe, X_test = train_and_export(n_train, epochs, path)
        predict = serve(path)
        labels, proba = predict(X_test)
        agree = np.mean(labels == pipe.predict(X_test))
        gap = np.abs(proba - pipe.predict_proba(X_test)).max()
        print(f"served labels agree with Pipeline.predict on {agree:.2%} of "
              f"{len(X_test):,} images; largest probability difference {gap:.1e}")
        print(f"first served predictions: {labels[:5].tolist()}")
        repeats = 20 if args.quick else 200
        one, batch = X_test[:1], X_test[:1000]
        times = {
            "Pipeline.predict_proba": [best_time(lambda: pipe.predict_proba(one), repeats),
                                       best_time(lambda: pipe.predict_proba(batch), 5)],
            "onnxruntime": [best_time(lambda: predict(one), repeats),
                            best_time(lambda: predict(batch), 5)],
        }
    for name, (single, thousand) in times.items():
        print(f"{name:<24} 1 image {single * 1e3:.3f} ms   1,000 images {thousand * 1e3:.1f} ms")
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
    for ax, column, title in zip(axes, (0, 1), ("1 image", "1,000 images")):
        names = list(times)
        ax.barh(names, [times[n][column] * 1e3 for n in names], color=["C0", "C1"])
        ax.set(xlabel="ms, best of several calls", title=title)
    fig.suptitle("Answering a request: the Pipeline in Python, its ONNX graph in onnxruntime")
    fig.tight_layout()
    OUTPUT.mkdir(exist_ok=True)
    fig.savefig(OUTPUT / "deploy_onnx.png", dpi=110)
    plt.close(fig)
    print("timings drawn to deploy_onnx.png")


if __name__ == "__main__":
    main()
