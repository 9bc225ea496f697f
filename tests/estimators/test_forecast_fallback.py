"""RNNForecaster falls back to seasonal naive when its network loses on a held-out period."""

import numpy as np

from sklnn import RNNForecaster, SeasonalNaive, make_windows


def _seasonal_series(n=160, season=8):
    t = np.arange(n)
    return 10 + np.sin(2 * np.pi * t / season) + 0.01 * np.random.default_rng(0).normal(size=n)


def _model(**params):
    return RNNForecaster(cell="gru", hidden_size=4, num_layers=1, season_length=8,
                         random_state=0, **params)


def test_a_network_that_loses_to_seasonal_naive_forecasts_seasonal_naive():
    X, y = make_windows(_seasonal_series(), lookback=16, horizon=4)
    # a huge step size for one epoch: the network's deviations are noise
    model = _model(learning_rate_init=5.0, max_iter=1).fit(X, y)
    assert model.uses_network_ is False
    naive = SeasonalNaive(season_length=8).fit(X, y)
    np.testing.assert_allclose(model.predict(X[-5:]), naive.predict(X[-5:]), atol=1e-9)
    np.testing.assert_allclose(model.forecast(_seasonal_series(), steps=4),
                               naive.forecast(_seasonal_series(), steps=4), atol=1e-9)


def test_without_a_season_or_held_out_period_the_network_is_used():
    X, y = make_windows(_seasonal_series(), lookback=16, horizon=4)
    assert RNNForecaster(hidden_size=2, num_layers=1, max_iter=1, random_state=0).fit(
        X, y).uses_network_ is True
    assert _model(max_iter=1).fit(X[:12], y[:12]).uses_network_ is True  # too short
