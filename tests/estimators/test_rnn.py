"""RNNForecaster, RNNClassifier, make_windows and make_sine_series."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from tolerances import F32_OUTPUT, F32_RECURSIVE, F64_OUTPUT

from sklnn import RNNClassifier, RNNForecaster, make_windows
from sklnn.datasets import make_sine_series
from sklnn.modules import sequence_lengths

LOOKBACK = 20

# Small networks that learn the sine series in well under a second. The lecture's series are
# stationary short windows whose level carries information, so they are read as levels: the
# default differencing and instance normalisation, made for trending series, cost accuracy
# here (measured in docs/sequences.md; tests/estimators/test_sequences.py tests the defaults).
FAST = dict(hidden_size=16, num_layers=1, learning_rate_init=0.01, batch_size=32, max_iter=25,
            random_state=0)
LEVELS = dict(differencing=0, instance_norm=False)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # The short max_iter above is deliberate; the assertions check what was learnt.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def sine():
    """Lecture series of 32 steps (float32): 300 for training, 100 held out."""
    series = make_sine_series(400, LOOKBACK + 12, random_state=0).astype(np.float32)
    return series[:300], series[300:]


@pytest.fixture(scope="module")
def next_step_model(sine):
    train, _ = sine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = RNNForecaster(cell="gru", **FAST, **LEVELS)
        return model.fit(train[:, :LOOKBACK], train[:, LOOKBACK])


def _on_device(module, array):
    """``array`` as a tensor where ``module``'s weights are, in their dtype."""
    weight = next(module.parameters())
    return torch.as_tensor(array, dtype=weight.dtype, device=weight.device)


# ---------------------------------------------------------------- make_windows
def test_make_windows_round_trips_a_1d_series():
    series = np.arange(30.0)
    X, y = make_windows(series, lookback=5, horizon=3)
    assert X.shape == (23, 5) and y.shape == (23, 3)
    for i in (0, 7, 22):
        np.testing.assert_array_equal(np.concatenate([X[i], y[i]]), series[i:i + 8])
    rebuilt = np.concatenate([X[:, 0], X[-1, 1:], y[-1]])
    np.testing.assert_array_equal(rebuilt, series)
    _, y1 = make_windows(series, lookback=5)
    np.testing.assert_array_equal(y1, series[5:])


def test_make_windows_multivariate_and_pandas():
    frame = pd.DataFrame({"a": np.arange(12.0), "b": 100 + np.arange(12.0)},
                         index=pd.date_range("2024-01-01", periods=12, freq="D"))
    X, y = make_windows(frame, lookback=4, horizon=2, target="b")
    assert X.shape == (7, 4, 2) and y.shape == (7, 2)
    np.testing.assert_array_equal(X[3], frame.to_numpy()[3:7])
    np.testing.assert_array_equal(y[3], frame["b"].to_numpy()[7:9])
    X_all, y_all = make_windows(frame.to_numpy(), lookback=4, horizon=2)
    np.testing.assert_array_equal(X_all, X)
    assert y_all.shape == (7, 2, 2)
    np.testing.assert_array_equal(y_all[:, :, 1], y)
    X_series, y_series = make_windows(frame["a"], lookback=4)
    np.testing.assert_array_equal(y_series, frame["a"].to_numpy()[4:])
    assert X_series.shape == (8, 4)


def test_make_windows_rejects_short_series_and_bad_arguments():
    with pytest.raises(ValueError, match="at least 6 steps"):
        make_windows(np.arange(5.0), lookback=5, horizon=1)
    with pytest.raises(ValueError, match="lookback"):
        make_windows(np.arange(5.0), lookback=0)
    with pytest.raises(ValueError, match="not a column"):
        make_windows(pd.DataFrame({"a": np.arange(9.0)}), lookback=2, target="z")


# ------------------------------------------------------------ make_sine_series
def test_make_sine_series_follows_the_lecture_formula():
    series = make_sine_series(3, 40, random_state=7)
    assert series.shape == (3, 40)
    np.testing.assert_array_equal(series, make_sine_series(3, 40, random_state=7))
    assert not np.allclose(series, make_sine_series(3, 40, random_state=8))
    rng = np.random.RandomState(7)
    p, q, a, b = rng.uniform(size=(4, 3, 1))
    noise = rng.uniform(size=(3, 40))
    for k in (0, 17, 39):
        t = k / 40
        expected = (0.5 * np.sin((t - a[:, 0]) * (10 * p[:, 0] + 10))
                    + 0.2 * np.sin((t - b[:, 0]) * (20 * q[:, 0] + 20))
                    + 0.1 * (noise[:, k] - 0.5))
        np.testing.assert_allclose(series[:, k], expected)


# ------------------------------------------------------------------ forecaster
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_cell_type_learns_the_next_value(sine, cell):
    train, held_out = sine
    model = RNNForecaster(cell=cell, **FAST, **LEVELS)
    model.fit(train[:, :LOOKBACK], train[:, LOOKBACK])
    assert model.loss_curve_[-1] < 0.2 * model.loss_curve_[0]
    X_new, y_new = held_out[:, :LOOKBACK], held_out[:, LOOKBACK]
    naive = np.mean((X_new[:, -1] - y_new) ** 2)
    assert np.mean((model.predict(X_new) - y_new) ** 2) < 0.5 * naive


def test_recursive_forecast_beyond_the_horizon(sine, next_step_model):
    _, held_out = sine
    model = next_step_model
    history = held_out[0, :LOOKBACK]
    steps = 12
    forecast = model.forecast(history, steps=steps)
    assert forecast.shape == (steps,) and model.horizon_ == 1
    # each value is the forecast from the window extended by the earlier forecasts
    extended = np.concatenate([history, forecast[:2]])
    for k in range(3):
        window = extended[len(history) - LOOKBACK + k:len(history) + k]
        np.testing.assert_allclose(forecast[k], model.predict(window[None])[0], **F32_RECURSIVE)
    # lists and several series at once give the same values
    np.testing.assert_allclose(model.forecast(list(history), steps=3), forecast[:3],
                               **F32_RECURSIVE)
    batch = model.forecast(held_out[:, :LOOKBACK], steps=steps)
    assert batch.shape == (len(held_out), steps)
    np.testing.assert_allclose(batch[0], forecast, **F32_RECURSIVE)
    actual = held_out[:, LOOKBACK:]
    naive = np.mean((held_out[:, LOOKBACK - 1:LOOKBACK] - actual) ** 2)
    assert np.mean((batch - actual) ** 2) < 0.5 * naive
    with pytest.raises(ValueError, match="windows of 20"):
        model.forecast(history[:10], steps=2)


def test_forecast_of_a_datetime_series_is_indexed_by_the_following_timestamps(next_step_model):
    values = make_sine_series(1, 60, random_state=3)[0].astype(np.float32)
    hourly = pd.Series(values, index=pd.date_range("2024-03-01", periods=60, freq="h"),
                       name="load")
    out = next_step_model.forecast(hourly, steps=5)
    assert isinstance(out, pd.Series) and out.name == "load"
    expected = pd.date_range("2024-03-03 12:00", periods=5, freq="h")
    assert out.index.equals(expected)
    np.testing.assert_allclose(out.to_numpy(), next_step_model.forecast(values, 5),
                               **F32_RECURSIVE)
    # no freq attribute: inferred from the timestamps
    daily_index = pd.DatetimeIndex(list(pd.date_range("2024-01-01", periods=60, freq="D")))
    assert daily_index.freq is None
    daily = next_step_model.forecast(pd.Series(values, index=daily_index), steps=3)
    assert list(daily.index) == list(pd.date_range("2024-03-01", periods=3, freq="D"))


def test_sequence_to_sequence_training_uses_every_step(sine):
    train, held_out = sine
    X, Y = train[:, :LOOKBACK], train[:, LOOKBACK:LOOKBACK + 3]
    model = RNNForecaster(cell="gru", training_target="sequence", **FAST, **LEVELS).fit(X, Y)
    assert model.horizon_ == 3 and model.n_outputs_ == LOOKBACK * 3
    assert model.module_(_on_device(model.module_, X[:2])).shape == (2, LOOKBACK * 3)
    X_new, Y_new = held_out[:, :LOOKBACK], held_out[:, LOOKBACK:LOOKBACK + 3]
    predicted = model.predict(X_new)
    assert predicted.shape == Y_new.shape
    naive = np.mean((X_new[:, -1:] - Y_new) ** 2)
    assert np.mean((predicted - Y_new) ** 2) < 0.5 * naive
    assert model.score(X_new, Y_new) > 0.8
    with pytest.raises(ValueError, match="bidirectional"):
        RNNForecaster(training_target="sequence", bidirectional=True).fit(X, Y)
    burnt_in = RNNForecaster(training_target="sequence", burn_in=5, max_iter=1).fit(X, Y)
    assert burnt_in.n_outputs_ == (LOOKBACK - 5) * 3
    assert burnt_in.predict(X_new).shape == Y_new.shape
    with pytest.raises(ValueError, match="burn_in"):
        RNNForecaster(training_target="sequence", burn_in=LOOKBACK).fit(X, Y)


def test_scaling_is_inverted_on_output(sine):
    train, _ = sine
    shifted = 5000.0 + 1000.0 * train
    X, y = shifted[:, :LOOKBACK], shifted[:, LOOKBACK]
    model = RNNForecaster(cell="gru", **FAST, **LEVELS).fit(X, y)
    assert abs(model.predict(X).mean() - y.mean()) < 50
    assert model.score(X, y) > 0.9


def test_multivariate_windows_and_shape_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6, 2))
    y = X[:, -1, 0] + X[:, -2, 1]
    model = RNNForecaster(cell="gru", **FAST, **LEVELS).fit(X, y)
    assert model.sequence_shape_ == (6, 2) and model.n_features_in_ == 12
    np.testing.assert_allclose(model.predict(X.reshape(60, 12)), model.predict(X), **F64_OUTPUT)
    np.testing.assert_allclose(model.predict(torch.as_tensor(X)), model.predict(X), **F64_OUTPUT)
    with pytest.raises(ValueError, match=r"\(6, 2\)"):
        model.predict(rng.normal(size=(3, 6, 3)))
    with pytest.raises(ValueError, match=r"\(6, 2\)"):
        model.predict(rng.normal(size=(3, 7)))
    assert model.forecast(rng.normal(size=(10, 2))).shape == (1,)
    with pytest.raises(ValueError, match="univariate"):
        model.forecast(rng.normal(size=(10, 2)), steps=3)


def test_grid_search_with_time_series_split(sine):
    train, _ = sine
    X, y = train[:, :LOOKBACK], train[:, LOOKBACK]
    search = GridSearchCV(
        RNNForecaster(cell="gru", **{**FAST, "max_iter": 8}),
        {"hidden_size": [4, 16]},
        cv=TimeSeriesSplit(n_splits=3),
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and scores.shape == (2,)
    assert search.best_params_["hidden_size"] in (4, 16)
    assert search.score(X, y) > 0.5


# ------------------------------------------------------------------ classifier
def _variable_length_problem(n=240, steps=12, seed=0):
    """Sequences of 4..12 steps; the class says whether the walk ends above its start."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, steps + 1, size=n)
    walks = np.cumsum(rng.normal(size=(n, steps)), axis=1)
    labels = (walks[np.arange(n), lengths - 1] > 0).astype(int)
    return walks, lengths, labels


def _padded(walks, lengths, value):
    padded = walks.copy()
    padded[np.arange(walks.shape[1]) >= lengths[:, None]] = value
    return padded


@pytest.mark.parametrize("padding_value", [-99.0, np.nan])
def test_padding_does_not_change_predictions(padding_value):
    walks, lengths, labels = _variable_length_problem()
    X = _padded(walks, lengths, padding_value)
    clf = RNNClassifier(cell="gru", padding_value=padding_value, **FAST).fit(X, labels)
    assert clf.score(X, labels) > 0.8
    proba = clf.predict_proba(X)
    network = clf.module_
    for i in np.flatnonzero(lengths < 12)[:5]:
        unpadded = _on_device(network, walks[i, :lengths[i]].reshape(1, -1, 1))
        with torch.no_grad():
            logit = network(unpadded)
        # cuDNN runs packed and unpacked sequences through different float32 kernels
        rtol = 1e-6 if clf.device_.type == "cpu" else 1e-4
        np.testing.assert_allclose(proba[i, 1], torch.sigmoid(logit).item(), rtol=rtol, atol=rtol)
    # the same weights reading the padding as data give other answers
    unpacked = copy.deepcopy(network)
    unpacked.padding_value = None
    short = np.flatnonzero(lengths < 8)[:5]
    with torch.no_grad():
        as_data = torch.sigmoid(unpacked(torch.nan_to_num(_on_device(network, X[short]))))
    as_data = as_data.cpu().numpy()
    assert not np.allclose(as_data[:, 0], proba[short, 1], atol=1e-3)


def test_last_and_flatten_readouts_learn_and_ignore_padding():
    walks, lengths, labels = _variable_length_problem()
    X = _padded(walks, lengths, np.nan)
    short = np.flatnonzero(lengths < 12)[:4]
    for readout in ("last", "flatten"):  # "mean", the default, in the test above
        clf = RNNClassifier(cell="gru", readout=readout, bidirectional=True, padding_value=np.nan,
                            **FAST).fit(X, labels)
        assert clf.score(X, labels) > 0.8, readout
        proba = clf.predict_proba(X)
        network = clf.module_
        # each short sequence alone, unpadded, gets the padded row's probability
        with torch.no_grad():
            alone = [torch.sigmoid(network(_on_device(network, walks[i, :lengths[i]]
                                                      .reshape(1, -1, 1)))).item()
                     for i in short]
        rtol = 1e-6 if clf.device_.type == "cpu" else 1e-4
        np.testing.assert_allclose(proba[short, 1], alone, rtol=rtol, atol=rtol)
    flat = RNNClassifier(readout="flatten", bidirectional=True, hidden_size=3, num_layers=1,
                         stem_channels=None, padding_value=np.nan, max_iter=1)
    head = flat.fit(X[:20], labels[:20]).module_.head
    assert head.in_features == 12 * 2 * 3  # every step of both directions
    # the default stem (windows of 2 steps, half a window of zeros each side) leaves
    # (12 + 2 - 2) // 2 + 1 = 7 steps
    head = flat.set_params(stem_channels=32).fit(X[:20], labels[:20]).module_.head
    assert head.in_features == 7 * 2 * 3
    with pytest.raises(ValueError, match="readout"):
        RNNClassifier(readout="max", padding_value=np.nan, max_iter=1).fit(X[:20], labels[:20])


def test_nan_inside_a_sequence_is_rejected_even_with_nan_padding():
    walks, lengths, labels = _variable_length_problem(n=40)
    X = _padded(walks, lengths, np.nan)
    X[0, 1] = np.nan  # lengths are at least 4, so step 1 is data
    with pytest.raises(ValueError, match="NaN inside sequences"):
        RNNClassifier(padding_value=np.nan, max_iter=1).fit(X, labels)
    with pytest.raises(ValueError, match="NaN"):
        RNNClassifier(max_iter=1).fit(_padded(walks, lengths, np.nan), labels)


def test_sequence_lengths_count_only_trailing_padding():
    x = torch.tensor([[1.0, 0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0],
                      [3.0, 4.0, 5.0, 6.0, 7.0]]).unsqueeze(-1)
    assert sequence_lengths(x, 0.0).tolist() == [3, 1, 5]


def test_bidirectional_multiclass_classifier_on_3d_sequences():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, 8, 2))
    # which feature has the larger sum, or neither by a margin
    diff = X[:, :, 0].sum(axis=1) - X[:, :, 1].sum(axis=1)
    y = np.where(diff > 1.5, "first", np.where(diff < -1.5, "second", "tie"))
    clf = RNNClassifier(cell="lstm", bidirectional=True, class_weight="balanced",
                        **{**FAST, "max_iter": 40}).fit(X, y)
    assert list(clf.classes_) == ["first", "second", "tie"]
    proba = clf.predict_proba(X)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, **F32_OUTPUT)
    assert clf.score(X, y) > 0.8


def test_predict_batches_count_every_step_of_the_hidden_sequence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 50)).astype(np.float32)
    model = RNNForecaster(hidden_size=20, num_layers=2, max_iter=1).fit(X, X[:, -1])
    assert model._largest_activation() == 50 * 20  # T steps x hidden units per row
    model.set_params(bidirectional=True).fit(X, X[:, -1])
    assert model._largest_activation() == 50 * 40
    # the rows per batch shrink with the sequence, and predictions do not depend on them
    assert model._predict_batch_rows() < 8192
    expected = model.predict(X)
    model._predict_batch_rows = lambda: 7
    np.testing.assert_allclose(model.predict(X), expected, **F32_OUTPUT)


def test_rnn_prediction_counts_every_step_when_it_picks_threads():
    from sklnn.engine.threads import SINGLE_THREAD_FLOPS

    X = np.random.default_rng(0).normal(size=(64, 50)).astype(np.float32)
    model = RNNForecaster(cell="rnn", hidden_size=20, num_layers=2, max_iter=1)
    model.fit(X, X[:, -1])
    per_step = model._flops_per_sample(model.module_)
    per_row = model._predict_flops_per_sample(model.module_)
    assert per_row == 50 * per_step
    # a full predict batch is worth a second thread (1.9 s -> 1.0 s on 100,000 windows);
    # a few rows, or one training batch of 32, are not
    assert model._predict_batch_rows() * per_row > SINGLE_THREAD_FLOPS
    assert model._predict_batch_rows() * per_step < SINGLE_THREAD_FLOPS
    assert 8 * per_row < SINGLE_THREAD_FLOPS
    assert 3 * 32 * per_step < SINGLE_THREAD_FLOPS
