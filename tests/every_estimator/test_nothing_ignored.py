"""Nothing a user passes is silently ignored, and every message points at the user."""

import warnings

import numpy as np
import pytest
from conftest import small_data, small_estimators
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklnn import (
    CNNImageClassifier,
    MLPClassifierGPU,
    RNNClassifier,
)
from sklnn.callbacks import EpochLogger


@pytest.mark.parametrize("estimator", small_estimators(max_iter=1),
                         ids=lambda e: type(e).__name__)
def test_warnings_point_at_the_user_s_line(estimator):
    X, y = small_data(estimator)
    clipped = clone(estimator).set_params(batch_size=500)
    for fit, category in (
        (lambda: estimator.fit(X, y), ConvergenceWarning),  # max_iter=1
        (lambda: make_pipeline(StandardScaler(), estimator).fit(X, y), ConvergenceWarning),
        (lambda: clipped.fit(X, y), UserWarning),  # batch_size larger than the data
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        assert any(issubclass(w.category, category) for w in caught), caught
        assert {w.filename for w in caught} == {__file__}, [(w.filename, str(w.message))
                                                            for w in caught]


@pytest.mark.parametrize("given", ["callbacks", "validation_data"])
def test_lbfgs_refuses_what_it_cannot_honour(binary_data, given):
    X, y = binary_data
    kwargs = {"callbacks": [EpochLogger()]} if given == "callbacks" else {}
    fit_kwargs = {"validation_data": (X, y)} if given == "validation_data" else {}
    clf = MLPClassifierGPU(solver="lbfgs", max_iter=5, **kwargs)
    with pytest.raises(ValueError, match=f"solver='lbfgs' cannot use {given}"):
        clf.fit(X, y, **fit_kwargs)
    assert not hasattr(clf, "module_")


def test_untransformed_validation_data_in_a_pipeline_warns_and_a_held_out_share_works(
        binary_data):
    X, y = binary_data
    X = X * 1000.0 + 5000.0  # a scale the StandardScaler removes
    pipe = make_pipeline(StandardScaler(), MLPClassifierGPU(hidden_layer_sizes=(8,),
                                                            max_iter=5, random_state=0))
    with pytest.warns(UserWarning, match="another scale"):
        pipe.fit(X, y, mlpclassifiergpu__validation_data=(X, y))
    # the transformed validation set raises nothing
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*another scale.*")
        pipe.fit(X, y, mlpclassifiergpu__validation_data=(pipe[:-1].transform(X), y))
    # the documented alternative: score a held-out share every epoch, never stop early
    monitored = make_pipeline(StandardScaler(), MLPClassifierGPU(
        hidden_layer_sizes=(8,), max_iter=5, early_stopping=True, n_iter_no_change=np.inf,
        random_state=0)).fit(X, y)
    history = monitored[-1].history_
    assert len(history) == 5 and all(r["valid_score"] > 0.5 for r in history)


def test_wrong_dimensions_name_what_is_accepted(binary_data):
    X5 = np.zeros((4, 1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"\(n, H, W\), \(n, C, H, W\) or \(n, H, W, C\)"):
        CNNImageClassifier().fit(X5, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"\(n_samples, T, F\)"):
        RNNClassifier().fit(np.zeros((4, 3, 2, 2)), [0, 1, 0, 1])
    X, y = binary_data
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        MLPClassifierGPU(max_iter=2).fit(X, y, validation_data=X)
