"""scikit-learn's callback API (sklearn.callback, 1.9+) on sklnn estimators."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklnn import MLPClassifierGPU, MLPRegressorGPU
from sklnn.estimators import _sklearn_callbacks

needs_callbacks = pytest.mark.skipif(
    not _sklearn_callbacks.AVAILABLE,
    reason=f"sklearn.callback needs scikit-learn >= 1.9; this is {sklearn.__version__}")


def _data():
    X = np.random.RandomState(0).randn(60, 4)
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


def _clf(**params):
    params = {"hidden_layer_sizes": (8,), "learning_rate_init": 0.05, "max_iter": 4,
              "random_state": 0, **params}
    return MLPClassifierGPU(**params)


class _StopAtEpoch:
    """A scikit-learn callback that asks to stop when epoch ``task_id`` ends."""

    def __init__(self, task_id):
        self.task_id = task_id
        self.seen = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        self.seen.append((context.task_name, context.task_id))
        return context.task_name == "epoch" and context.task_id == self.task_id


@needs_callbacks
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scoring_monitor_progress_bar_and_stop(capsys):
    from sklearn.callback import ProgressBar, ScoringMonitor

    X, y = _data()
    monitor = ScoringMonitor(scoring="accuracy")
    clf = _clf().set_callbacks(monitor)
    assert clone(clf)._skl_callbacks == [monitor]  # scikit-learn's clone keeps them
    assert "callbacks" in clf.get_params() and clf.get_params()["callbacks"] is None
    clf.fit(X, y)
    rows = monitor.get_logs().data
    assert [r["task_name"] for r in rows] == ["fit"] + ["epoch"] * 4
    assert [r["task_id_path"] for r in rows[1:]] == [(0, i) for i in range(4)]
    # each epoch is scored with the weights of that epoch; the last ones are the fit's
    assert rows[-1]["accuracy"] == rows[0]["accuracy"] == clf.score(X, y)
    assert len({r["accuracy"] for r in rows[1:]}) > 1
    assert not any(k.startswith(("_callback", "_sklearn_epoch")) for k in vars(clf))

    # True from on_fit_task_end stops at that epoch; nothing else changes
    stop = _StopAtEpoch(1)
    clf = _clf(max_iter=10).set_callbacks(stop).fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.history_) == 2
    assert stop.seen == [("epoch", 0), ("epoch", 1), ("fit", 0)]

    # worker processes would run the epochs away from the callbacks: refused, nothing fitted
    with pytest.raises(ValueError, match="n_processes=2 the epochs run in worker processes"):
        _clf(n_processes=2).set_callbacks(stop).fit(X, y)

    # L-BFGS has no epochs: the fit is one task
    lbfgs = MLPRegressorGPU(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5,
                            random_state=0).set_callbacks(ScoringMonitor(scoring="r2"))
    lbfgs.fit(X, X[:, 0])
    assert [r["task_name"] for r in lbfgs._skl_callbacks[0].get_logs().data] == ["fit"]

    # inside a Pipeline: the bar is set on the pipeline and propagates to the network
    monitor = ScoringMonitor(scoring="accuracy")
    pipe = make_pipeline(StandardScaler(), _clf(max_iter=2).set_callbacks(monitor))
    pipe.set_callbacks(ProgressBar()).fit(X, y)
    assert "MLPClassifierGPU - fit" in capsys.readouterr().out
    rows = monitor.get_logs().data
    assert [r["task_id_path"] for r in rows] == [(0, 1), (0, 1, 0), (0, 1, 1)]
    assert rows[0]["estimator_name"] == "MLPClassifierGPU"
    assert not hasattr(pipe[-1], "_parent_callback_ctx")


@needs_callbacks
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search(n_jobs, capsys):
    from sklearn.callback import ProgressBar, ScoringMonitor

    X, y = _data()
    monitor = ScoringMonitor(scoring="accuracy")
    search = GridSearchCV(_clf(max_iter=2).set_callbacks(monitor), {"alpha": [1e-4, 1e-2]},
                          cv=2, n_jobs=n_jobs)
    search.set_callbacks(ProgressBar()).fit(X, y)
    rows = monitor.get_logs().data  # scores from the workers reach this process
    # 2 candidates x 2 folds + the refit, each a fit task with 2 epochs
    assert sum(r["task_name"] == "fit" for r in rows) == 5
    assert sum(r["task_name"] == "epoch" for r in rows) == 10
    assert "refit-with-best-params | MLPClassifierGPU - fit" in capsys.readouterr().out


def test_older_scikit_learn_message():
    """What set_callbacks says before scikit-learn 1.9 (the class an older version gets)."""
    with pytest.raises(ImportError, match=r"scikit-learn >= 1\.9.*`callbacks` parameter"):
        _sklearn_callbacks._Unsupported().set_callbacks(object())


@pytest.mark.skipif(_sklearn_callbacks.AVAILABLE,
                    reason="checks scikit-learn < 1.9, which has no sklearn.callback")
def test_older_scikit_learn_raises_and_fits():
    X, y = _data()
    clf = _clf(max_iter=1)
    with pytest.raises(ImportError, match=r"scikit-learn >= 1\.9"):
        clf.set_callbacks()
    assert clf.fit(X, y).n_iter_ == 1
