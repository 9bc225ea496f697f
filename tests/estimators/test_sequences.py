"""Forecasting transforms and quantiles, SeasonalNaive, and CNNSequenceClassifier."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklnn import (
    CNNSequenceClassifier,
    NeuralNetClassifier,
    RNNClassifier,
    RNNForecaster,
    SeasonalNaive,
    make_windows,
)
from sklnn.callbacks import Callback
from sklnn.estimators._forecast_transforms import windows_to_model
from sklnn.modules import ResidualConvSequenceNetwork


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _trend_seasonal(n=240, season=12, seed=0):
    """A monthly-like series: linear trend, a seasonal pattern growing with the level, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 100 + 2.0 * t
    pattern = np.sin(2 * np.pi * t / season) + 0.5 * np.cos(4 * np.pi * t / season)
    return level * (1 + 0.15 * pattern) + rng.normal(scale=2.0, size=n)


# ------------------------------------------------------------------ transforms
@pytest.mark.parametrize("season_length", [None, 3])
@pytest.mark.parametrize("differencing", [0, 1])
@pytest.mark.parametrize("instance_norm", [False, True])
def test_window_transforms_are_inverted_exactly(differencing, instance_norm, season_length):
    series = _trend_seasonal(80)
    X, y = make_windows(np.column_stack([series, series[::-1]]), lookback=10, horizon=4,
                        target=0)
    model_units, context = windows_to_model(X, differencing=differencing,
                                            instance_norm=instance_norm, target_feature=0,
                                            season_length=season_length)
    z = context.targets_to_model(y)
    np.testing.assert_allclose(context.targets_from_model(z), y, rtol=1e-12)
    base = 0.0
    if season_length:  # no deviation in model units is the seasonal-naive forecast
        base = X[:, [7, 8, 9, 7], 0]  # the last season, repeated over the horizon of 4
        np.testing.assert_allclose(context.targets_from_model(np.zeros_like(z)), base,
                                   rtol=1e-12)
    if instance_norm:  # each window's features have mean 0 and standard deviation 1
        observed = model_units[:, differencing:]
        np.testing.assert_allclose(observed.mean(axis=1), 0, atol=1e-9)
        np.testing.assert_allclose(observed.std(axis=1), 1, rtol=1e-9)
    if differencing:
        np.testing.assert_array_equal(model_units[:, 0], 0)
        # the first target change is measured from the window's last value
        # (the deviation from a seasonal base is measured from 0: from the base's first value)
        first = z[:, 0] * context.scale + context.mean
        start = X[:, -1, 0] if season_length is None else base[:, 0]
        np.testing.assert_allclose(first, y[:, 0] - start, rtol=1e-9, atol=1e-9)
    # quantile forecasts (a last axis) come back in order through the inverse
    quantiles = np.sort(np.random.default_rng(0).normal(size=(*z.shape, 3)), axis=-1)
    assert np.all(np.diff(context.targets_from_model(quantiles), axis=-1) >= 0)


def test_forecaster_undoes_its_transforms_and_beats_seasonal_naive_on_a_trend():
    season = 12
    series = _trend_seasonal()
    train, actual = series[:-2 * season], series[-2 * season:]
    X, y = make_windows(train, lookback=2 * season, horizon=2 * season)
    model = RNNForecaster(cell="gru", hidden_size=32, num_layers=1, random_state=0).fit(X, y)
    assert model.differencing == 1 and model.instance_norm  # the defaults under test
    # predict = the network's output, unscaled, then un-normalised and summed back by hand
    window = train[-2 * season:]
    change = np.diff(window)
    mean, std = change.mean(), change.std()
    rows = np.r_[0.0, (change - mean) / std]
    rows = (rows - model._input_mean[0]) / model._input_scale[0]
    weight = next(model.module_.parameters())
    with torch.no_grad():
        raw = model.module_(torch.as_tensor(rows[None], dtype=weight.dtype,
                                            device=weight.device)).double().cpu().numpy()
    by_hand = window[-1] + np.cumsum((raw[0] * model._target_scale + model._target_mean) * std
                                     + mean)
    forecast = model.forecast(train, steps=2 * season)
    np.testing.assert_allclose(forecast, by_hand, rtol=1e-5)
    naive = SeasonalNaive(season_length=season).fit(X, y).forecast(train, steps=2 * season)
    assert np.mean(np.abs(forecast - actual)) < np.mean(np.abs(naive - actual))


def test_quantile_forecasts_are_ordered_and_cover_the_data():
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(600) / 4) + rng.normal(scale=0.3, size=600)
    X, y = make_windows(series, lookback=16, horizon=2)
    model = RNNForecaster(cell="gru", hidden_size=16, num_layers=1, loss="quantile",
                          quantiles=(0.1, 0.5, 0.9), max_iter=40, learning_rate_init=0.01,
                          random_state=0).fit(X, y)
    bands = model.predict_quantiles(X)
    assert bands.shape == (len(X), 2, 3)
    assert np.all(np.diff(bands, axis=-1) >= 0)
    np.testing.assert_array_equal(model.predict(X), bands[:, :, 1])
    inside = np.mean((y >= bands[:, :, 0]) & (y <= bands[:, :, 2]))
    below_median = np.mean(y <= bands[:, :, 1])
    assert 0.65 < inside < 0.95 and 0.35 < below_median < 0.65
    with pytest.raises(ValueError, match="quantiles must be increasing"):
        RNNForecaster(loss="quantile", quantiles=(0.9, 0.1)).fit(X, y)
    with pytest.raises(ValueError, match="predict_quantiles needs"):
        RNNForecaster(max_iter=1).fit(X, y).predict_quantiles(X)


def test_seasonal_naive_repeats_the_last_season():
    series = pd.Series(np.tile([1.0, 4.0, 2.0], 5) + 0.0,
                       index=pd.date_range("2024-01-01", periods=15, freq="MS"))
    X, y = make_windows(series, lookback=6, horizon=4)
    model = SeasonalNaive(season_length=3).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), y)  # exact on a purely seasonal series
    assert model.score(X, y) == 1.0
    out = model.forecast(series, steps=5)
    assert list(out) == [1.0, 4.0, 2.0, 1.0, 4.0] and out.index[0] == pd.Timestamp("2025-04-01")
    with pytest.raises(ValueError, match="season_length=8"):
        SeasonalNaive(season_length=8).fit(X, y)
    # the forecaster's seasonal base has the same requirement, and needs one forecast
    for model, message in ((RNNForecaster(season_length=8), "season_length=8 needs windows"),
                           (RNNForecaster(season_length=3, training_target="sequence"),
                            "season_length needs training_target='last'")):
        with pytest.raises(ValueError, match=message):
            model.fit(X, y)
        assert not hasattr(model, "module_")


# ------------------------------------------------------------------ 1-D CNN
@pytest.mark.parametrize("padding_value", [-99.0, np.nan])
def test_cnn_padding_gives_the_unpadded_prediction(padding_value):
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 17, size=120)
    walks = [np.cumsum(rng.normal(size=(n, 2)), axis=0) for n in lengths]
    labels = np.array([int(w[-1, 0] > 0) for w in walks])
    clf = CNNSequenceClassifier(filters=(8, 8), kernel_sizes=(4, 3), max_iter=15,
                                learning_rate_init=0.01, padding_value=padding_value,
                                random_state=0).fit(walks, labels)  # a ragged list
    assert clf.sequence_shape_ == (16, 2)
    padded = np.full((120, 16, 2), padding_value)
    for i, w in enumerate(walks):
        padded[i, :len(w)] = w
    proba = clf.predict_proba(padded)
    np.testing.assert_array_equal(clf.predict_proba(walks), proba)
    network = clf.module_
    for i in np.flatnonzero(lengths < 16)[:4]:
        weight = next(network.parameters())
        with torch.no_grad():
            logit = network(torch.as_tensor(walks[i][None], dtype=weight.dtype,
                                            device=weight.device))
        np.testing.assert_allclose(proba[i, 1], torch.sigmoid(logit).item(), rtol=1e-5)
    with pytest.raises(ValueError, match="padding_value"):
        RNNClassifier(max_iter=1).fit(walks, labels)


@pytest.mark.parametrize("padding_value", [-99.0, np.nan])
def test_residual_network_pads_exactly_and_trains_every_block(padding_value):
    torch.manual_seed(0)
    network = ResidualConvSequenceNetwork(12, 2, 3, filters=(4, 6, 6), kernel_sizes=(5, 3),
                                          padding_value=padding_value)
    # widths 2 -> 4 -> 6 change (1x1 convolution shortcuts); 6 -> 6 keeps the identity
    shortcuts = [type(block.shortcut).__name__ for block in network.blocks]
    assert shortcuts == ["Sequential", "Sequential", "Identity"]
    x = torch.randn(5, 12, 2)
    network(x).sum().backward()  # training mode: batch statistics
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters())
    network.eval()
    short = torch.randn(1, 7, 2)
    padded = torch.cat([short, torch.full((1, 5, 2), padding_value)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(network(padded), network(short))
        # the flattened layout of the estimators gives the same output as 3-D input
        torch.testing.assert_close(network(x.flatten(1)), network(x))
    with pytest.raises(ValueError, match="kernel_sizes"):
        ResidualConvSequenceNetwork(12, 2, 3, kernel_sizes=())


def test_residual_network_trains_behind_neural_net_classifier():
    # as docs/sequences.md shows it: the module, its sequence shape, NeuralNetClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12, 2)).astype(np.float32)
    y = (X[:, :6, 0].sum(axis=1) > 0).astype(int)
    clf = NeuralNetClassifier(ResidualConvSequenceNetwork, module__n_steps=12, module__n_inputs=2,
                              module__filters=(4, 4), module__kernel_sizes=(3,), batch_size=8,
                              max_iter=2, random_state=0).fit(X, y)
    assert isinstance(clf.module_, ResidualConvSequenceNetwork)
    assert clf.predict_proba(X).shape == (40, 2)


class _CountBatches(Callback):
    def on_train_begin(self, trainer):
        self.n = 0

    def on_batch_begin(self, trainer, batch_index):
        self.n += 1


def test_sequence_classifiers_auto_batch_gives_small_sets_ten_steps_per_epoch():
    rng = np.random.default_rng(0)
    for n, cnn_batches, rnn_batches in [(36, 9, 9), (640, 20, 10)]:  # batches of 4; 32 or 64
        X, y = rng.normal(size=(n, 6)), np.arange(n) % 2
        for model, expected in [(CNNSequenceClassifier(filters=(2,), kernel_sizes=(3,)),
                                 cnn_batches), (RNNClassifier(hidden_size=2), rnn_batches)]:
            counter = _CountBatches()
            model.set_params(max_iter=1, callbacks=[counter], random_state=0).fit(X, y)
            assert counter.n == expected, (type(model).__name__, n)
    counter = _CountBatches()
    CNNSequenceClassifier(filters=(2,), kernel_sizes=(3,), batch_size=10, max_iter=1,
                          callbacks=[counter]).fit(X, y)
    assert counter.n == 64  # an explicit batch size is kept
