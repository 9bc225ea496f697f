"""Sequence workloads against classical baselines computed in the same run.

Run: ``python -m benchmarks.sequences`` (needs the ``bench`` extra: mnist1d,
sktime, statsmodels). It prints Markdown tables and, with ``--write``, puts
them between the ``<!-- sequences:NAME -->`` markers of ``docs/sequences.md``,
so the numbers in the documentation are always the last run's output.

- ``mnist1d``: MNIST-1D (Greydanus and Kobak, generated offline by the mnist1d
  package: 4,000 training and 1,000 test sequences of 40 steps): GRU and 1-D
  CNN against logistic regression and scikit-learn's MLP.
- ``ucr``: UCR sets read from the files inside the sktime wheel (their
  official train/test split) against 1-NN with Euclidean and DTW distances.
- ``forecast``: the last two seasons of yearly and monthly series shipped in
  the same wheel, sMAPE and MASE against seasonal naive and statsmodels' ETS.
- ``defaults``: the forecaster's differencing/instance-norm choices on the
  forecasting series and the lecture's sine series (the evidence for the defaults).
- ``budget``: the sequence classifiers' default fits on 1,000 sequences of 500
  steps, the largest set their training budget (``max_iter="auto"``) is sized for.

Workloads: ``python -m benchmarks.sequences forecast ucr`` runs only those.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from sklnn import CNNSequenceClassifier, RNNClassifier, RNNForecaster, SeasonalNaive, make_windows
from sklnn.datasets import make_sine_series

DOC = Path(__file__).resolve().parents[1] / "docs" / "sequences.md"
SEED = 0


def _data_dir() -> Path:
    import sktime  # the bench extra: its wheel ships the data files read below

    return Path(sktime.__file__).parent / "datasets" / "data"


# ------------------------------------------------------------------ MNIST-1D
def mnist1d_table() -> str:
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())  # generated from the package's templates
    X, y, X_test, y_test = data["x"], data["y"], data["x_test"], data["y_test"]
    rows = []
    models = {
        "logistic regression": LogisticRegression(max_iter=2000),
        "scikit-learn MLP (100,)": MLPClassifier(max_iter=500, random_state=SEED),
        "sklnn RNNClassifier (GRU, defaults)": RNNClassifier(cell="gru", random_state=SEED),
        "sklnn CNNSequenceClassifier (defaults)": CNNSequenceClassifier(random_state=SEED),
    }
    published = {"logistic regression": 0.32, "scikit-learn MLP (100,)": 0.68,
                 "sklnn RNNClassifier (GRU, defaults)": 0.91,
                 "sklnn CNNSequenceClassifier (defaults)": 0.94}
    for name, model in models.items():
        seconds, accuracy = _fit_score(model, X, y, X_test, y_test)
        rows.append((name, f"{accuracy:.3f}", f"{published[name]:.2f}", f"{seconds:.0f}"))
    return _table(("model", "test accuracy", "published (paper)", "fit s"), rows)


def _fit_score(model, X, y, X_test, y_test):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start, float(np.mean(model.predict(X_test) == y_test))


# ------------------------------------------------------------------ UCR
UCR_SETS = ("ArrowHead", "BasicMotions", "JapaneseVowels", "OSULeaf")
#: seeds of each network's fits (the sets are small: the seed matters)
SEEDS = (0, 1, 2)
#: FCN's test accuracy (Wang et al. 2017), mean of 10 runs, as reported by Fawaz et al.
#: (2019), "Deep learning for time series classification: a review"
FCN_PUBLISHED = {"ArrowHead": 0.843, "BasicMotions": 1.000, "JapaneseVowels": 0.993,
                 "OSULeaf": 0.977}


def read_ts(path: Path):
    """A ``.ts`` file: a list of (steps, dims) arrays (lengths may differ) and the labels."""
    sequences, labels = [], []
    in_data = False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *dims, label = line.split(":")
        values = [np.array([float(v) for v in d.split(",")]) for d in dims]
        sequences.append(np.stack(values, axis=1))
        labels.append(label)
    return sequences, np.array(labels)


def pad(sequences, length):
    """Stack (steps, dims) arrays padded at the end with NaN to ``length`` steps."""
    out = np.full((len(sequences), length, sequences[0].shape[1]), np.nan)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s
    return out


def dtw_distances(test, train) -> np.ndarray:
    """Dynamic time warping distances (squared Euclidean step cost, no warping window)
    between every test and training sequence, as a (n_test, n_train) array.

    The dynamic programme runs over the steps in Python and over all pairs at once
    in numpy. Sequences of different lengths are grouped by length pair.
    """
    out = np.empty((len(test), len(train)))
    by_length = {}
    for i, t in enumerate(test):
        for j, s in enumerate(train):
            by_length.setdefault((len(t), len(s)), []).append((i, j))
    for (n, m), pairs in by_length.items():
        for start in range(0, len(pairs), 8192):  # bounded memory for long sequences
            chunk = pairs[start:start + 8192]
            rows = np.array([i for i, _ in chunk])
            cols = np.array([j for _, j in chunk])
            a = np.stack([test[i] for i in rows])  # (pairs, n, dims)
            b = np.stack([train[j] for j in cols])  # (pairs, m, dims)
            previous = np.full((len(chunk), m + 1), np.inf)
            previous[:, 0] = 0.0
            for step in range(n):
                cost = ((a[:, step, None, :] - b) ** 2).sum(axis=2)  # (pairs, m)
                # the diagonal and vertical moves come from the row before, all at once
                from_above = np.minimum(previous[:, 1:], previous[:, :-1]) + cost
                # the horizontal move chains along the row: current[k] = min(from_above[k-1],
                # current[k-1] + cost[k-1]) unrolls to P[k] + min over j <= k of
                # (from_above[j-1] - P[j]), with P the prefix sums of the row's costs: one
                # numpy scan instead of a Python loop over k
                prefix = np.cumsum(cost, axis=1)  # P[1..m]
                current = np.empty_like(previous)
                current[:, 0] = np.inf
                current[:, 1:] = prefix + np.minimum.accumulate(from_above - prefix, axis=1)
                previous = current
            out[rows, cols] = np.sqrt(previous[:, -1])
    return out


def _one_nn_dtw(train, y_train, test):
    return y_train[np.argmin(dtw_distances(test, train), axis=1)]


def _one_nn(train, y_train, test, distance):
    predictions = [y_train[int(np.argmin([distance(t, s) for s in train]))] for t in test]
    return np.array(predictions)


def _euclidean(a, b):
    n = min(len(a), len(b))  # unequal lengths: compare the common prefix
    return float(np.sqrt(((a[:n] - b[:n]) ** 2).sum()))


def ucr_table() -> str:
    rows = []
    for name in UCR_SETS:
        folder = _data_dir() / name
        train, y_train = read_ts(folder / f"{name}_TRAIN.ts")
        test, y_test = read_ts(folder / f"{name}_TEST.ts")
        # z-normalise each feature over the training set (the archive's sets are mostly
        # z-normalised per series already; the multivariate ones are not)
        stacked = np.concatenate(train)
        mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-12
        train = [(s - mean) / std for s in train]
        test = [(s - mean) / std for s in test]
        length = max(len(s) for s in train + test)
        X, X_test = pad(train, length), pad(test, length)
        start = time.perf_counter()
        euclid = np.mean(_one_nn(train, y_train, test, _euclidean) == y_test)
        dtw_acc = np.mean(_one_nn_dtw(train, y_train, test) == y_test)
        baseline_s = time.perf_counter() - start
        cnn = [_fit_score(CNNSequenceClassifier(padding_value=np.nan, random_state=seed),
                          X, y_train, X_test, y_test) for seed in SEEDS]
        gru = [_fit_score(RNNClassifier(cell="gru", padding_value=np.nan, random_state=seed),
                          X, y_train, X_test, y_test) for seed in SEEDS]
        rows.append((name, f"{len(train)}/{len(test)}", f"{length}x{X.shape[2]}",
                     f"{euclid:.3f}", f"{dtw_acc:.3f}", _mark([a for _, a in cnn], euclid),
                     f"{FCN_PUBLISHED[name]:.3f}", _mark([a for _, a in gru], euclid),
                     f"{baseline_s:.0f}", f"{np.mean([s for s, _ in cnn]):.0f}",
                     f"{np.mean([s for s, _ in gru]):.0f}"))
    return _table(("set", "train/test", "steps x dims", "1-NN Euclidean", "1-NN DTW",
                   f"CNNSequenceClassifier, {len(SEEDS)} seeds", "FCN (published)",
                   f"RNNClassifier (GRU), {len(SEEDS)} seeds", "1-NN s", "CNN fit s (mean)",
                   "GRU fit s (mean)"), rows)


def _mark(scores, baseline):
    """The mean (and range) of the seeds' accuracies, bold when the mean beats ``baseline``."""
    text = _spread(scores, 3)
    return f"**{text}**" if np.mean(scores) > baseline else text


# ------------------------------------------------------------------ forecasting
#: name -> (file, value column, season length); the last two seasons are the test period
SERIES = {
    "Airline (monthly)": ("Airline/Airline.csv", "Passengers", 12),
    "Lynx (yearly, ~10-year cycle)": ("Lynx/Lynx.csv", "0", 10),
    "UK seatbelts KSI (monthly)": ("seatbelts/seatbelts.csv", "KSI", 12),
    "US consumption change (quarterly)": ("Uschange/Uschange.csv", "Consumption", 4),
}


def load_series(name):
    file, column, season = SERIES[name]
    values = pd.read_csv(_data_dir() / file)[column].to_numpy(dtype=np.float64)
    return values, season


def smape(actual, forecast):
    return float(100 * np.mean(2 * np.abs(forecast - actual)
                               / (np.abs(actual) + np.abs(forecast))))


def mase(actual, forecast, train, season):
    scale = np.mean(np.abs(train[season:] - train[:-season]))
    return float(np.mean(np.abs(forecast - actual)) / scale)


def rnn_forecast(train, season, horizon, seed=SEED, kept=None, **params):
    """RNNForecaster (defaults, told the season as seasonal naive and ETS are) on windows of
    two seasons, forecasting the whole test period; ``kept`` collects ``uses_network_``."""
    params = {"season_length": season, **params}
    X, y = make_windows(train, lookback=2 * season, horizon=horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = RNNForecaster(random_state=seed, **params).fit(X, y)
    if kept is not None:
        kept.append(model.uses_network_)
    return model.forecast(train, steps=horizon)


def ets_forecast(train, season, horizon):
    """statsmodels Holt-Winters with a damped additive trend; the seasonal form (additive or
    multiplicative) with the lower AIC."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    best = None
    for seasonal in ("add", "mul"):
        if seasonal == "mul" and train.min() <= 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(train, trend="add", damped_trend=True,
                                       seasonal=seasonal, seasonal_periods=season).fit()
        if best is None or fit.aic < best.aic:
            best = fit
    return best.forecast(horizon)


def forecast_table() -> str:
    rows = []
    for name in SERIES:
        values, season = load_series(name)
        horizon = 2 * season
        train, actual = values[:-horizon], values[-horizon:]
        X, y = make_windows(train, lookback=season, horizon=horizon)
        candidates = {
            "seasonal naive": [SeasonalNaive(season_length=season).fit(X, y).forecast(
                train, steps=horizon)],
            "ETS (statsmodels)": [ets_forecast(train, season, horizon)],
        }
        # tiny training sets: the seed matters, so three seeds, their mean and range
        kept: list = []
        forecasts = [rnn_forecast(train, season, horizon, seed=s, kept=kept) for s in range(3)]
        candidates[f"RNNForecaster (defaults, season_length), 3 seeds; network kept in "
                   f"{sum(kept)}"] = forecasts
        for model, forecasts in candidates.items():
            rows.append((name, model,
                         _spread([smape(actual, f) for f in forecasts]),
                         _spread([mase(actual, f, train, season) for f in forecasts], 3)))
    return _table(("series", "model", "sMAPE %", "MASE"), rows)


def _spread(values, digits=2):
    """One value, or the mean and the range of several."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (f"{np.mean(values):.{digits}f} ({np.min(values):.{digits}f}-"
            f"{np.max(values):.{digits}f})")


def defaults_table() -> str:
    """sMAPE/MSE for each seasonal-base, differencing and instance-norm choice, all else at
    defaults. The sine series has no fixed season, so only the rows without one apply."""
    choices = [(seasonal, differencing, instance_norm) for seasonal in (False, True)
               for differencing in (0, 1) for instance_norm in (False, True)]
    sine = make_sine_series(400, 32, random_state=0)
    rows = []
    for seasonal, differencing, instance_norm in choices:
        params = dict(differencing=differencing, instance_norm=instance_norm)
        cells = []
        for name in SERIES:
            values, season = load_series(name)
            horizon = 2 * season
            train, actual = values[:-horizon], values[-horizon:]
            scores = [smape(actual, rnn_forecast(train, season, horizon, seed=s, **params,
                                                 season_length=season if seasonal else None))
                      for s in range(3)]
            cells.append(f"{np.mean(scores):.2f}")
        label = "the series' season" if seasonal else "None"
        if seasonal:
            rows.append((label, str(differencing), str(instance_norm), *cells, "-"))
            continue
        X, y = sine[:300, :20], sine[:300, 20]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = RNNForecaster(cell="gru", hidden_size=16, num_layers=1, max_iter=25,
                                  learning_rate_init=0.01, batch_size=32, random_state=0,
                                  **params).fit(X, y)
        mse = np.mean((model.predict(sine[300:, :20]) - sine[300:, 20]) ** 2)
        rows.append((label, str(differencing), str(instance_norm), *cells, f"{mse:.5f}"))
    return _table(("season_length", "differencing", "instance_norm",
                   *(f"{n} sMAPE %" for n in SERIES), "sine next-value MSE"), rows)


# ------------------------------------------------------------------ output
def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write(doc: Path, name: str, table: str) -> None:
    """Replace the text between ``<!-- sequences:NAME -->`` and ``<!-- /sequences:NAME -->``."""
    text = doc.read_text()
    pattern = re.compile(rf"(<!-- sequences:{name} -->\n).*?(<!-- /sequences:{name} -->)",
                         re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{doc} has no <!-- sequences:{name} --> markers.")
    doc.write_text(pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text))


# ------------------------------------------------------------------ training budget
def budget_table() -> str:
    """Default fits on the largest set the training budget is sized for: 1,000 sequences of
    500 steps (random walks, three classes), timed on this machine."""
    rng = np.random.default_rng(SEED)
    X = np.cumsum(rng.normal(size=(1000, 500)), axis=1)
    X = (X - X.mean()) / X.std()
    y = np.digitize(X[:, -1], np.quantile(X[:, -1], [1 / 3, 2 / 3]))
    rows = []
    for name, model in {"CNNSequenceClassifier": CNNSequenceClassifier(random_state=SEED),
                        "RNNClassifier": RNNClassifier(random_state=SEED),
                        "RNNClassifier (GRU)": RNNClassifier(cell="gru", random_state=SEED)
                        }.items():
        start = time.perf_counter()
        model.fit(X, y)
        rows.append((name, str(model.n_iter_), f"{time.perf_counter() - start:.0f}",
                     f"{model.n_threads_}"))
    return _table(("defaults, 1,000 x 500 steps", "epochs (max_iter='auto')", "fit s",
                   "threads"), rows)


WORKLOADS = {"mnist1d": mnist1d_table, "ucr": ucr_table, "forecast": forecast_table,
             "defaults": defaults_table, "budget": budget_table}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workloads", nargs="*", choices=[*WORKLOADS, []], default=list(WORKLOADS))
    parser.add_argument("--write", action="store_true", help=f"update the tables in {DOC}")
    args = parser.parse_args(argv)
    for name in args.workloads:
        start = time.perf_counter()
        table = WORKLOADS[name]()
        print(f"\n## {name} ({time.perf_counter() - start:.0f} s)\n\n{table}", flush=True)
        if args.write:
            write(DOC, name, table)


if __name__ == "__main__":
    main()
