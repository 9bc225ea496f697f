"""Autoencoders against PCA on MNIST: reconstruction error and the codes' use downstream.

Run: ``python -m benchmarks.autoencoders`` (``--write`` puts the table between the
``<!-- bench:autoencoders -->`` markers of ``docs/benchmarks.md`` and
``docs/autoencoders.md``). On the project's
8,000 / 2,000 split of the bundled MNIST test set (``sklnn.datasets.mnist_train_test_split``,
pixels in [0, 1]) each method learns 16 components from the 8,000 training images; the
table gives the mean squared reconstruction error per pixel on the 2,000 test images and
the accuracy of a logistic regression (on standardised codes) trained on the training
images' codes and scored on the test images' codes, with fit times, all in one run.

``--validate`` compares candidate settings on a 6,400 / 1,600 split of the training part
only (the test part plays no role), the evidence for the estimators' defaults.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklnn import ConvAutoencoder, MLPAutoencoder
from sklnn.datasets import mnist_train_test_split

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
GUIDE = DOC.with_name("autoencoders.md")
SEED = 0
COMPONENTS = 16


def _models() -> dict:
    return {
        "PCA": PCA(COMPONENTS, random_state=SEED),
        "MLPAutoencoder (defaults)": MLPAutoencoder(COMPONENTS, random_state=SEED),
        "ConvAutoencoder (defaults)": ConvAutoencoder(COMPONENTS, random_state=SEED),
    }


def _candidates() -> dict:
    """Settings compared on the validation split (the defaults are among them)."""
    return {
        "PCA": PCA(COMPONENTS, random_state=SEED),
        "MLP (100,)": MLPAutoencoder(COMPONENTS, (100,), random_state=SEED),
        "MLP (256,)": MLPAutoencoder(COMPONENTS, (256,), random_state=SEED),
        "MLP (512,) (default)": MLPAutoencoder(COMPONENTS, (512,), random_state=SEED),
        "MLP (256, 64)": MLPAutoencoder(COMPONENTS, (256, 64), random_state=SEED),
        "MLP (256,), noise 0.2": MLPAutoencoder(COMPONENTS, (256,), noise=0.2,
                                                random_state=SEED),
        "Conv (16, 32), 20 epochs": ConvAutoencoder(COMPONENTS, (16, 32), random_state=SEED),
        "Conv (32, 64), 20 epochs (default)": ConvAutoencoder(COMPONENTS, (32, 64),
                                                              random_state=SEED),
        "Conv (16, 32), 40 epochs": ConvAutoencoder(COMPONENTS, (16, 32), max_iter=40,
                                                    random_state=SEED),
    }


def evaluate(model, X_train, y_train, X_test, y_test) -> tuple[float, float, float]:
    """Fit seconds, test reconstruction MSE per pixel, downstream test accuracy."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes_train = model.fit_transform(X_train)
    seconds = time.perf_counter() - start
    codes_test = model.transform(X_test)
    mse = float(np.mean((model.inverse_transform(codes_test) - X_test) ** 2))
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    accuracy = float(classifier.fit(codes_train, y_train).score(codes_test, y_test))
    return seconds, mse, accuracy


def table(models, X_train, y_train, X_test, y_test) -> str:
    rows = []
    for name, model in models.items():
        seconds, mse, accuracy = evaluate(model, X_train, y_train, X_test, y_test)
        epochs = getattr(model, "n_iter_", "")
        rows.append(f"| {name} | {mse:.4f} | {accuracy:.3f} | {epochs} | {seconds:.0f} |")
        print(rows[-1], flush=True)
    header = ("| method (16 components) | reconstruction MSE | logistic regression accuracy "
              "| epochs | fit s |\n|---|---|---|---|---|")
    return "\n".join([header, *rows])


def _write(path: Path, marker: str, body: str) -> None:
    start, end = f"<!-- bench:{marker}:start -->", f"<!-- bench:{marker}:end -->"
    text = path.read_text()
    if start not in text:
        raise SystemExit(f"{path} has no {start} marker")
    text = re.sub(f"{start}.*?{end}", lambda _: f"{start}\n{body}\n{end}", text,
                  flags=re.DOTALL)
    path.write_text(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", action="store_true",
                        help="compare candidate settings on a split of the training part")
    parser.add_argument("--write", action="store_true",
                        help="write the table into docs/benchmarks.md and docs/autoencoders.md")
    args = parser.parse_args(argv)
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    stamp = (f"_{when}; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, device cpu, load average (1 min) "
             f"{os.getloadavg()[0]:.1f} at start; torch {torch.__version__}._")
    if args.validate:
        X_fit, X_val, y_fit, y_val = train_test_split(
            X_train, y_train, test_size=1600, stratify=y_train, random_state=SEED)
        result = stamp + "\n\n" + table(_candidates(), X_fit, y_fit, X_val, y_val)
        print(result)
        if args.write:
            _write(GUIDE, "autoencoders-validation", result)
        return
    result = stamp + "\n\n" + table(_models(), X_train, y_train, X_test, y_test)
    print(result)
    if args.write:
        _write(DOC, "autoencoders", result)
        _write(GUIDE, "autoencoders", result)


if __name__ == "__main__":
    main()
