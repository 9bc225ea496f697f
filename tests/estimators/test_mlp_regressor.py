"""MLPRegressorGPU against scikit-learn's documented MLPRegressor behaviour."""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.neural_network import MLPRegressor

from sklnn import MLPRegressorGPU


@pytest.fixture
def regression_data():
    X, y = make_regression(n_samples=400, n_features=6, n_targets=1, noise=0.1, random_state=0)
    return X, y / y.std()


def test_fits_as_well_as_sklearn(regression_data):
    X, y = regression_data
    params = dict(hidden_layer_sizes=(32,), max_iter=200, random_state=0)
    ours = MLPRegressorGPU(**params).fit(X, y)
    theirs = MLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "identity"
    assert ours.score(X, y) > 0.95
    assert ours.score(X, y) >= theirs.score(X, y) - 0.02
    # reported loss is scikit-learn's half squared error plus the L2 term
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.5)


def test_multi_output_regression():
    X, Y = make_regression(n_samples=300, n_features=5, n_targets=3, random_state=1)
    Y = Y / Y.std(axis=0)
    reg = MLPRegressorGPU(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=300,
                          random_state=0).fit(X, Y)
    assert reg.n_outputs_ == 3
    assert reg.predict(X).shape == (300, 3)
    assert reg.score(X, Y) > 0.95


def test_column_vector_target_warns_and_is_raveled(regression_data):
    from sklearn.exceptions import DataConversionWarning

    X, y = regression_data
    with pytest.warns(DataConversionWarning):
        reg = MLPRegressorGPU(max_iter=5, random_state=0).fit(X, y.reshape(-1, 1))
    assert reg.predict(X).shape == (len(y),)


def test_poisson_loss_uses_log_link_and_rejects_negative_targets():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(500, 3))
    y = rng.poisson(np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1]))
    reg = MLPRegressorGPU(loss="poisson", hidden_layer_sizes=(16,), max_iter=300,
                          random_state=0).fit(X, y)
    assert reg.out_activation_ == "exp"
    pred = reg.predict(X)
    assert (pred > 0).all()
    assert np.corrcoef(pred, np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1]))[0, 1] > 0.9
    with pytest.raises(ValueError, match="negative"):
        MLPRegressorGPU(loss="poisson").fit(X, y - 5.0)


@pytest.mark.parametrize("loss", ["absolute_error", "huber"])
def test_robust_losses_resist_outliers(regression_data, loss):
    X, y = regression_data
    y_dirty = y.copy()
    y_dirty[::10] += 50.0
    clean_rows = np.ones(len(y), bool)
    clean_rows[::10] = False
    params = dict(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01,
                  random_state=0)
    robust = MLPRegressorGPU(loss=loss, **params).fit(X, y_dirty)
    squared = MLPRegressorGPU(**params).fit(X, y_dirty)
    err = lambda m: np.abs(m.predict(X[clean_rows]) - y[clean_rows]).mean()  # noqa: E731
    assert err(robust) < err(squared)


def test_partial_fit_and_output_count_check(regression_data):
    X, y = regression_data
    reg = MLPRegressorGPU(hidden_layer_sizes=(16,), random_state=0)
    for _ in range(20):
        reg.partial_fit(X, y)
    assert reg.n_iter_ == 1 and reg.t_ == 20 * len(y) and len(reg.loss_curve_) == 20
    with pytest.raises(ValueError, match="outputs"):
        reg.partial_fit(X, np.column_stack([y, y]))
    assert reg.t_ == 20 * len(y)


def test_sample_weight_zero_equals_dropping_rows_with_lbfgs(regression_data):
    X, y = regression_data
    w = np.ones(len(y))
    w[:100] = 0.0
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, random_state=0,
                  device="cpu")
    weighted = MLPRegressorGPU(**params).fit(X, y, sample_weight=w)
    dropped = MLPRegressorGPU(**params).fit(X[100:], y[100:])
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-5, atol=1e-6)


def test_early_stopping_uses_r2(regression_data):
    X, y = regression_data
    reg = MLPRegressorGPU(hidden_layer_sizes=(32,), early_stopping=True, max_iter=100,
                          random_state=0).fit(X, y)
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert 0.5 < reg.best_validation_score_ <= 1.0
