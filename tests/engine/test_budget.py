"""The training budget behind ``max_iter="auto"`` (sklnn.engine.budget): its mechanics only;
the accuracy it buys is measured by the benchmarks (docs/sequences.md)."""

import numpy as np
import pytest

from sklnn import CNNSequenceClassifier, MLPClassifierGPU, RNNClassifier
from sklnn.engine.budget import EpochBudget, resolve_max_iter

BUDGET = EpochBudget(samples_seen=1000, min_epochs=5, max_epochs=40, flop_budget=3e6)


@pytest.mark.parametrize("n_samples, flops, epochs", [
    (10, 1.0, 40),      # small set: capped at max_epochs (would be 100)
    (50, 1.0, 20),      # ceil(1000 / 50)
    (300, 1.0, 5),      # large set: min_epochs (would be 4)
    (50, 1000.0, 20),   # 3 * 1000 * 50 * 20 = 3e6 FLOPs: just within the budget
    (50, 2000.0, 10),   # twice the cost: half the epochs
    (10**6, 1e9, 1),    # far beyond the budget: still one epoch
])
def test_budget_for_a_given_n(n_samples, flops, epochs):
    assert BUDGET.epochs(n_samples, flops) == epochs


def test_given_max_iter_wins_and_auto_needs_a_budget():
    assert resolve_max_iter(7, BUDGET, 10, 1.0) == 7
    assert resolve_max_iter("auto", BUDGET, 10, 1.0) == 40
    with pytest.raises(ValueError, match="EpochBudget"):
        resolve_max_iter("auto", None, 10, 1.0)
    with pytest.raises(ValueError, match="n_samples"):
        BUDGET.epochs(0, 1.0)


def _data(n=24):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 8))
    X[: n // 2, 2:5] += 2.0
    return X, (np.arange(n) < n // 2).astype(int)


def _tiny(**params):
    return CNNSequenceClassifier(filters=(2,), kernel_sizes=(3,), random_state=0, **params)


def test_auto_runs_the_budget_and_a_given_max_iter_wins():
    X, y = _data()
    clf = _tiny()
    assert clf.get_params()["max_iter"] == "auto"  # "not given" is visible as such
    clf._epoch_budget = EpochBudget(samples_seen=72, min_epochs=1, max_epochs=10,
                                    flop_budget=1e12)
    clf.fit(X, y)
    assert clf.n_iter_ == 3  # ceil(72 / 24), every epoch of the cosine schedule run
    assert clf.get_params()["max_iter"] == "auto"  # the parameter is not overwritten
    clf.set_params(max_iter=2).fit(X, y)
    assert clf.n_iter_ == 2


def test_a_planned_schedule_is_not_cut_short_by_the_tol_rule():
    X, y = _data()
    # tol so large that no epoch after the first counts as an improvement: the rule fires
    # after the third
    rule = dict(tol=1e6, n_iter_no_change=1, max_iter=8)
    assert _tiny(learning_rate="constant", **rule).fit(X, y).n_iter_ == 3
    assert _tiny(learning_rate="cosine", **rule).fit(X, y).n_iter_ == 8
    assert _tiny(learning_rate="step", **rule).fit(X, y).n_iter_ == 8
    # early stopping on a validation score still ends a planned schedule
    stopped = MLPClassifierGPU(hidden_layer_sizes=(3,), learning_rate="cosine",
                               early_stopping=True, random_state=0, **rule).fit(X, y)
    assert stopped.n_iter_ < 8


@pytest.mark.parametrize("cls, expected", [
    (CNNSequenceClassifier, [400, 100, 50, 24]),
    (RNNClassifier, [200, 50, 40, 40]),
])
def test_default_networks_get_the_epochs_the_user_guide_lists(cls, expected):
    # docs/user_guide.md, "Training budget": n sequences x T steps of one feature
    picked = []
    for n, steps in [(36, 251), (200, 427), (4000, 40), (1000, 500)]:
        estimator = cls()
        estimator.sequence_shape_ = (steps, 1)
        module = estimator._build_module(steps, 3)
        picked.append(resolve_max_iter(estimator.max_iter, estimator._epoch_budget, n,
                                       estimator._predict_flops_per_sample(module)))
    assert picked == expected
