"""Drop-in fidelity: the same call on scikit-learn's MLP and on sklnn's, compared in one test.

An int ``random_state`` gives sklnn scikit-learn's own initial weights (same draws in the
same order), so with "lbfgs" (deterministic, float64) the two follow nearly the same path.
"""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import scale

from sklnn import MLPClassifierGPU, MLPRegressorGPU


@pytest.fixture
def sklearn_regression():
    # the data of scikit-learn's own test_lbfgs_regression
    X, y = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
    return X, scale(y)


@pytest.mark.parametrize("activation", ["logistic", "relu", "tanh"])
def test_lbfgs_regression_reaches_sklearn_quality(sklearn_regression, activation):
    X, y = sklearn_regression
    params = dict(solver="lbfgs", hidden_layer_sizes=50, activation=activation, max_iter=200,
                  tol=1e-3, random_state=1)
    ours = MLPRegressorGPU(**params).fit(X, y)
    theirs = MLPRegressor(**params).fit(X, y)
    assert theirs.score(X, y) > 0.98  # scikit-learn's own test threshold
    # Same start, same objective; the line searches part ways in the last float64 bits, so
    # iteration counts differ a little and scores agree to about 1e-2.
    assert ours.score(X, y) > 0.98
    assert abs(ours.score(X, y) - theirs.score(X, y)) < 0.01


def test_initial_weights_are_sklearn_s(binary_data):
    X, y = binary_data
    # one SGD step of practically zero size leaves the initial weights
    params = dict(hidden_layer_sizes=(7, 5), max_iter=1, solver="sgd", learning_rate_init=1e-300,
                  momentum=0.0, random_state=42, activation="logistic")
    ours = MLPClassifierGPU(**params).fit(X, y)
    theirs = MLPClassifier(**params).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_assigned_weights_are_used_by_predict_and_warm_start(binary_data):
    X, y = binary_data
    theirs = MLPClassifier(hidden_layer_sizes=(6,), max_iter=30, random_state=3).fit(X, y)
    ours = MLPClassifierGPU(hidden_layer_sizes=(6,), max_iter=1, random_state=0,
                            warm_start=True, solver="sgd").fit(X, y)
    ours.coefs_ = theirs.coefs_
    ours.intercepts_ = theirs.intercepts_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X),
                               rtol=1e-10, atol=1e-12)
    before = ours.score(X, y)
    assert before == theirs.score(X, y)
    ours.set_params(max_iter=1, learning_rate_init=1e-300).fit(X, y)  # continues from them
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-12)
    with pytest.raises(ValueError, match="arrays of shapes"):
        ours.coefs_ = [np.zeros((2, 2))]
    with pytest.raises(AttributeError, match="after fit"):
        MLPClassifierGPU().coefs_ = theirs.coefs_


def test_partial_fit_classes_must_not_change(binary_data):
    X, y = binary_data
    for cls in (MLPClassifier, MLPClassifierGPU):
        model = cls(hidden_layer_sizes=(4,)).partial_fit(X, y + 1, classes=[1, 2])
        with pytest.raises(ValueError, match="is not the same as"):
            model.partial_fit(X, y, classes=[0, 1])
        model.partial_fit(X, y + 1, classes=[1, 2])  # the same classes again are fine


def test_partial_fit_on_multilabel_indicators_with_classes():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 4)
    Y = (rng.rand(40, 3) > 0.5).astype(int)
    for cls in (MLPClassifier, MLPClassifierGPU):
        model = cls(hidden_layer_sizes=(5,), random_state=0).partial_fit(X, Y, classes=[0, 1, 2])
        model.partial_fit(X, Y)
        np.testing.assert_array_equal(model.classes_, [0, 1, 2])
        assert model.predict(X).shape == (40, 3)
        assert model.predict_proba(X).shape == (40, 3)


def test_stratified_early_stopping_names_the_user_s_labels():
    X = np.random.RandomState(0).rand(30, 3)
    y = np.array(["False"] * 29 + ["True"])
    with pytest.raises(ValueError):  # scikit-learn >= 1.7 names the labels too
        MLPClassifier(early_stopping=True, max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match=r"only 1: \['True'\]"):
        MLPClassifierGPU(early_stopping=True, max_iter=5).fit(X, y)


def test_partial_fit_reports_the_epochs_of_the_call(binary_data):
    X, y = binary_data
    for cls in (MLPClassifier, MLPClassifierGPU):
        model = cls(hidden_layer_sizes=(4,), random_state=0)
        for _ in range(3):
            model.partial_fit(X, y, classes=[0, 1])
        assert model.n_iter_ == 1 and model.t_ == 3 * len(y) and len(model.loss_curve_) == 3
