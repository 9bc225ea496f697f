"""Forecasting sine series with an RNN
===================================

The lecture's forecasting example (see the gallery's introduction), which follows Geron's
*Hands-On Machine Learning*, chapter 15, with ``RNNForecaster``. 10,000 generated series of 50
steps (plus the values to forecast) are split into 7,000 training, 2,000 validation and 1,000
test series, with a fixed seed. We compare, on validation MSE, with the figures the book's
notebook publishes for the same kind of data:

- next value: naive last value, closed-form linear regression, deep RNN (2 x 20);
- next 10 values: linear regression, sequence-to-vector RNN, sequence-to-sequence
  RNN (scored on the forecast after the last step; trained on every step, and
  on the last 10 steps only with ``burn_in=40``), and the next-value RNN
  applied recursively with ``forecast``.

The RNNs use early stopping on 10% of the *training* series, so the
validation and test series play no part in training. A plot of a few
validation series with their forecasts goes to ``examples/output/rnn_forecasting.png``, the
table to ``rnn_forecasting.csv`` beside it (to ``$SKLNN_EXAMPLES_OUTPUT`` when set: the
documentation's gallery shows them from there).

Run: ``python examples/rnn_forecasting.py`` (15 minutes on 2 busy CPU cores in the run below).

``--quick`` (or ``SKLNN_EXAMPLES_QUICK=1``, as the gallery runs it) uses 1,000 series (split the
same way) and 3 epochs: a smoke run in seconds.
"""

# sphinx_gallery_thumbnail_path = "full_runs/rnn_forecasting/rnn_forecasting.png"

from __future__ import annotations

import argparse
import csv
import os
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from torch.optim.lr_scheduler import CosineAnnealingLR  # noqa: E402

from sklnn import RNNForecaster  # noqa: E402
from sklnn.callbacks import LRScheduler  # noqa: E402
from sklnn.datasets import make_sine_series  # noqa: E402

SEED = 42
N_STEPS = 50
HORIZON = 10
EPOCHS = 40
OUTPUT = Path(os.environ.get("SKLNN_EXAMPLES_OUTPUT") or Path(__file__).parent / "output")

# Validation MSE in the book's chapter 15 notebook.
PUBLISHED = {
    "naive last value": 0.0202,
    "linear regression": 0.0042,
    "deep RNN 2x20": 0.0029,
    "seq-to-vector RNN": 0.0085,
    "seq-to-seq RNN (last step)": "0.006-0.0096",
}


def split(series, n_targets):
    """Train / validation / test windows (70/20/10%) and the ``n_targets`` values after them."""
    X, y = series[:, :N_STEPS], series[:, N_STEPS:N_STEPS + n_targets]
    if n_targets == 1:
        y = y[:, 0]
    train, valid = len(series) * 7 // 10, len(series) * 9 // 10
    return (X[:train], y[:train]), (X[train:valid], y[train:valid]), (X[valid:], y[valid:])


def mse(y_true, y_pred):
    return float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))


def forecaster(epochs=EPOCHS, **params):
    """The lecture's 2 x 20 network, LSTM cells, a fixed budget of ``epochs`` epochs.

    The learning rate follows a cosine from 0.005 to 0 over the epochs, which
    settles the weights at the end; early stopping on 10% of the training
    series only keeps the best epoch (its patience is the whole budget).
    """
    settings = dict(
        cell="lstm",
        hidden_size=20,
        num_layers=2,
        batch_size=32,
        learning_rate_init=0.005,
        max_iter=epochs,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=epochs,
        callbacks=[LRScheduler(CosineAnnealingLR, T_max=epochs)],
        random_state=SEED,
        # the series are stationary and each window's level carries information: the
        # defaults made for trending series (differencing, per-window normalisation) cost
        # accuracy here (docs/sequences.md), so the network reads the levels
        differencing=0,
        instance_norm=False,
    )
    settings.update(params)
    return RNNForecaster(**settings)


def main(quick=False):
    n_series, epochs = (1000, 3) if quick else (10_000, EPOCHS)
    print(f"{n_series:,} series, RNNs trained for up to {epochs} epochs"
          + (" (quick run)" if quick else ""))
    # float32 like the book's Keras models; float64 input would train in float64.
    next_step = make_sine_series(n_series, N_STEPS + 1, random_state=SEED).astype(np.float32)
    ten_steps = make_sine_series(n_series, N_STEPS + HORIZON,
                                 random_state=SEED).astype(np.float32)
    rows = []

    def report(task, name, model_valid, model_test, seconds=None, published=None, model=None):
        rows.append((task, name, model_valid, model_test, seconds, published))
        took = "" if seconds is None else f" ({seconds:.0f} s"
        if model is not None:
            best = int(np.argmax(model.validation_scores_)) + 1
            took += f", {model.n_iter_} epochs, best {best}"
        took += ")" if took else ""
        print(f"{task:<10}{name:<44} valid MSE {model_valid:.5f}  test MSE {model_test:.5f}{took}",
              flush=True)

    # ---- next value
    (X, y), (X_valid, y_valid), (X_test, y_test) = split(next_step, 1)
    report("next", "naive last value", mse(y_valid, X_valid[:, -1]), mse(y_test, X_test[:, -1]),
           published=PUBLISHED["naive last value"])
    linear = LinearRegression().fit(X, y)
    report("next", "linear regression", mse(y_valid, linear.predict(X_valid)),
           mse(y_test, linear.predict(X_test)), published=PUBLISHED["linear regression"])
    started = time.perf_counter()
    deep = forecaster(epochs).fit(X, y)
    report("next", "deep RNN 2x20 (LSTM)", mse(y_valid, deep.predict(X_valid)),
           mse(y_test, deep.predict(X_test)), time.perf_counter() - started,
           PUBLISHED["deep RNN 2x20"], deep)

    # ---- next 10 values
    (X, Y), (X_valid, Y_valid), (X_test, Y_test) = split(ten_steps, HORIZON)
    repeat_last = np.repeat(X_valid[:, -1:], HORIZON, axis=1)
    report("10 steps", "naive last value", mse(Y_valid, repeat_last),
           mse(Y_test, np.repeat(X_test[:, -1:], HORIZON, axis=1)))
    linear = LinearRegression().fit(X, Y)
    report("10 steps", "linear regression", mse(Y_valid, linear.predict(X_valid)),
           mse(Y_test, linear.predict(X_test)))
    report("10 steps", "deep RNN 2x20, recursive forecast",
           mse(Y_valid, deep.forecast(X_valid, steps=HORIZON)),
           mse(Y_test, deep.forecast(X_test, steps=HORIZON)))
    started = time.perf_counter()
    to_vector = forecaster(epochs).fit(X, Y)
    report("10 steps", "seq-to-vector RNN", mse(Y_valid, to_vector.predict(X_valid)),
           mse(Y_test, to_vector.predict(X_test)), time.perf_counter() - started,
           PUBLISHED["seq-to-vector RNN"], to_vector)
    started = time.perf_counter()
    every_step = forecaster(epochs, training_target="sequence").fit(X, Y)
    report("10 steps", "seq-to-seq RNN, all 50 steps", mse(Y_valid, every_step.predict(X_valid)),
           mse(Y_test, every_step.predict(X_test)), time.perf_counter() - started,
           PUBLISHED["seq-to-seq RNN (last step)"], every_step)
    # Forecasts made after a few values dominate the loss above; train on the last 10 steps'.
    started = time.perf_counter()
    to_sequence = forecaster(epochs, training_target="sequence", burn_in=40).fit(X, Y)
    report("10 steps", "seq-to-seq RNN, last 10 steps (burn_in=40)",
           mse(Y_valid, to_sequence.predict(X_valid)), mse(Y_test, to_sequence.predict(X_test)),
           time.perf_counter() - started, PUBLISHED["seq-to-seq RNN (last step)"], to_sequence)

    table(rows, quick)
    plot(X_valid, Y_valid, to_vector, to_sequence, deep)


def table(rows, quick):
    """The results as aligned text, and as a CSV file beside the plot."""
    header = ["task", "model", "valid MSE", "test MSE", "fit time", "published valid MSE"]
    lines = [[task, name, f"{valid:.5f}", f"{test:.5f}",
              "" if seconds is None else f"{seconds:.0f} s",
              "" if published is None else str(published)]
             for task, name, valid, test, seconds, published in rows]
    if quick:  # the book's figures are for full-length training, not for a smoke run
        header, lines = header[:-1], [line[:-1] for line in lines]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    print()
    for row in [header, *lines]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    OUTPUT.mkdir(exist_ok=True)
    with open(OUTPUT / "rnn_forecasting.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *lines])


def plot(X_valid, Y_valid, to_vector, to_sequence, deep):
    OUTPUT.mkdir(exist_ok=True)
    picks = [0, 1, 2]
    fig, axes = plt.subplots(1, len(picks), figsize=(14, 3.6), sharey=True)
    past = np.arange(N_STEPS)
    future = np.arange(N_STEPS, N_STEPS + HORIZON)
    for ax, i in zip(axes, picks):
        window = X_valid[i:i + 1]
        ax.plot(past, X_valid[i], ".-", color="0.3", label="observed")
        ax.plot(future, Y_valid[i], "o-", color="black", label="actual")
        ax.plot(future, to_vector.predict(window)[0], "x-", label="seq-to-vector")
        ax.plot(future, to_sequence.predict(window)[0], "+-", label="seq-to-seq")
        ax.plot(future, deep.forecast(window[0], steps=HORIZON), "--", label="next-step, recursive")
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("x(t)")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = OUTPUT / "rnn_forecasting.png"
    fig.savefig(path, dpi=110)
    print(f"\ndrawn: {path.name}, table: rnn_forecasting.csv")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("SKLNN_EXAMPLES_QUICK", "0") not in ("", "0"),
                        help="1,000 series, 3 epochs: a smoke run in seconds")
    with warnings.catch_warnings():
        # max_iter is a time budget here; early stopping ends most fits before it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        main(parser.parse_args().quick)
