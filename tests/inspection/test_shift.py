"""sklnn.dataset_shift: false-alarm and detection rates, the result, bad input, the display.

The rate tests use Gaussian naive Bayes (fast: the rates belong to the permutation scheme,
which is the same for every classifier); one test runs the default gradient boosting.
Bounds come from the binomial distribution of the counts, not from one run: under the
null hypothesis a p-value is uniform, so at most 6 of 40 seeds fall below 0.05 with
probability 0.996.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.naive_bayes import GaussianNB

import sklnn
from sklnn.inspection import ShiftResult, dataset_shift

matplotlib = pytest.importorskip("matplotlib", reason="the display needs matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklnn.plot import DatasetShiftDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _halves(seed, n=200, d=5):
    X = np.random.default_rng(seed).normal(size=(n, d))
    return X[: n // 2], X[n // 2:]


def test_no_shift_false_alarms():
    """Two random halves of one sample: each fold's p-value is exact (uniform: alarms at
    the 5% level at their binomial rate, median near 1/2), and the combined p-value raises
    no more alarms than its level allows (e times a geometric mean: conservative, often
    capped at 1)."""
    results = [dataset_shift(*_halves(seed), classifier=GaussianNB(),
                             n_permutations=200, max_importance_rows=0, random_state=seed)
               for seed in range(40)]
    fold_p = np.array([r.fold_p_values[0] for r in results])
    assert np.sum(fold_p <= 0.05) <= 6
    assert 0.25 <= np.median(fold_p) <= 0.75
    p = np.array([r.p_value for r in results])
    assert np.sum(p <= 0.05) <= 6
    assert np.all((p >= np.e / 201 * (1 - 1e-9)) & (p <= 1))
    assert np.mean(p < 1) >= 0.2  # conservative, not stuck at 1


def test_detects_a_mean_shift():
    """A 1-standard-deviation shift of one of 5 features, 200 rows per sample: the AUC of
    the best classifier is Phi(1/sqrt 2) = 0.76, 4 null standard errors above 0.5 in each
    fold's 40 + 40 held-out rows, so every seed must detect it."""
    detected = []
    for seed in range(10):
        X_ref, X_new = _halves(seed, n=400)
        X_new = X_new + [1.0, 0, 0, 0, 0]
        result = dataset_shift(X_ref, X_new, classifier=GaussianNB(),
                               n_permutations=200, max_importance_rows=0, random_state=seed)
        detected.append(result.shift_detected(0.05))
        assert result.auc > 0.6
    assert all(detected)


def test_default_classifier_result_object():
    """Gradient boosting ranks the 100 moved rows of 200 first and names the moved column."""
    rng = np.random.default_rng(0)
    columns = ["a", "b", "c", "d"]
    X_ref = pd.DataFrame(rng.normal(size=(200, 4)), columns=columns)
    X_new = pd.DataFrame(rng.normal(size=(200, 4)), columns=columns)
    outliers = rng.choice(200, size=100, replace=False)
    X_new.loc[outliers, "b"] += 6.0
    result = dataset_shift(X_ref, X_new, n_permutations=100, random_state=0)
    assert isinstance(result, ShiftResult)
    assert result.fold_aucs.shape == (5,) and result.null_aucs.shape == (100, 5)
    assert result.auc == pytest.approx(result.fold_aucs.mean())
    assert result.scores_reference.shape == (200,) and result.scores_new.shape == (200,)
    # a tree's leaf may mix a few moved rows with unmoved ones: most, not all, come first
    assert len(set(result.shifted_rows[:100]) & set(outliers)) >= 90
    assert np.all(np.diff(result.shifted_scores) <= 0)
    assert result.top_features(1)[0][0] == "b"
    assert list(result.feature_names) == columns
    assert result.p_value >= np.e / 101 * (1 - 1e-9) and result.shift_detected()
    assert "auc=" in repr(result)
    assert result.model.n_iter_ >= 1  # the first fold's fitted gradient boosting


def test_reproducible_and_exported():
    X_ref, X_new = _halves(3)
    kwargs = dict(classifier=GaussianNB(), n_permutations=50, random_state=7)
    first, second = dataset_shift(X_ref, X_new, **kwargs), dataset_shift(X_ref, X_new, **kwargs)
    assert first.p_value == second.p_value
    np.testing.assert_array_equal(first.scores_new, second.scores_new)
    assert sklnn.dataset_shift is dataset_shift


def test_mlp_classifier_option():
    """Any classifier with predict_proba, an sklnn network included."""
    rng = np.random.default_rng(0)
    X_ref, X_new = rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + [2.0, 0, 0]
    clf = sklnn.MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    result = dataset_shift(X_ref, X_new, classifier=clf, cv=3, n_permutations=100,
                           max_importance_rows=0, random_state=0)
    assert result.auc > 0.7 and result.shift_detected()
    assert result.feature_importances is None and result.top_features() == []


@pytest.mark.parametrize("X_new, kwargs, error, match", [
    (np.zeros((10, 3)), {}, ValueError, "X_reference has 2 features and X_new 3"),
    (np.zeros((10, 2)), {"classifier": object()}, TypeError, "has no predict_proba"),
    (np.zeros((10, 2)), {"cv": 20}, ValueError, "at least 20 rows in each sample"),
    (np.zeros((10, 2)), {"cv": "five"}, TypeError, "int or a cross-validation splitter"),
    (np.zeros((10, 2)), {"n_permutations": 0}, ValueError, "n_permutations=0"),
    (np.zeros((1, 2)), {}, ValueError, "at least 2 rows"),
])
def test_bad_input(X_new, kwargs, error, match):
    with pytest.raises(error, match=match):
        dataset_shift(np.zeros((10, 2)), X_new, **kwargs)


def test_dataframes_with_other_columns():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="different columns"):
        dataset_shift(X, X[["b", "a"]])


def test_display_draws_scores_and_features():
    rng = np.random.default_rng(1)
    X_ref, X_new = rng.normal(size=(150, 6)), rng.normal(size=(150, 6)) + [0, 0, 0, 1.5, 0, 0]
    result = dataset_shift(X_ref, X_new, classifier=GaussianNB(), n_permutations=50,
                           random_state=0)
    disp = DatasetShiftDisplay.from_result(result, n_features=4)
    assert len(disp.bars_) == 4
    assert disp.features_ax_.get_yticklabels()[0].get_text() == "x3"  # the top bar
    assert f"{result.auc:.3f}" in disp.ax_.get_title()
    assert len(disp.ax_.patches) == 2 * 30  # two histograms of 30 bins
    only_scores = DatasetShiftDisplay(result.scores_reference, result.scores_new, 0.5, 1.0).plot()
    assert only_scores.features_ax_ is None


def test_display_from_data_runs_the_test():
    X_ref, X_new = _halves(5)
    disp = DatasetShiftDisplay.from_data(X_ref, X_new + [0, 2.0, 0, 0, 0], n_features=3,
                                         classifier=GaussianNB(), n_permutations=50,
                                         random_state=0)
    assert disp.features_ax_.get_yticklabels()[0].get_text() == "x1"
    assert disp.auc > 0.8
