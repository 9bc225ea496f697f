"""Callbacks: early stopping, schedulers, checkpoints, logging, history."""

import io

import numpy as np
import pytest
import torch
from conftest import outputs, small_data, small_estimators
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV
from tolerances import F32_OUTPUT

from sklnn import MLPClassifierGPU
from sklnn.callbacks import Callback, Checkpoint, EarlyStopping, EpochLogger, LRScheduler


def test_history_records_every_epoch(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=4, random_state=0).fit(X, y, validation_data=(X, y))
    assert [r["epoch"] for r in clf.history_] == [1, 2, 3, 4]
    assert set(clf.history_[0]) == {"epoch", "train_loss", "valid_loss", "valid_score", "lr",
                                    "duration"}
    assert [r["train_loss"] for r in clf.history_] == clf.loss_curve_
    assert clf.history_[-1]["valid_score"] == pytest.approx(clf.score(X, y))


def test_early_stopping_callback_stops_and_restores(binary_data):
    X, y = binary_data
    stopper = EarlyStopping(monitor="valid_loss", patience=3)
    X_val, y_val = X[:80], 1 - y[:80]
    clf = MLPClassifierGPU(max_iter=200, callbacks=[stopper], random_state=0)
    clf.fit(X[80:], y[80:], validation_data=(X_val, y_val))
    assert clf.n_iter_ < 200
    assert clf.n_iter_ == stopper.best_epoch_ + 3
    best = min(r["valid_loss"] for r in clf.history_)
    assert stopper.best_ == best
    p = clf.predict_proba(X_val)[np.arange(80), y_val]
    assert -np.mean(np.log(p)) == pytest.approx(best, rel=1e-6)


def test_early_stopping_without_validation_set_explains(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=3, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="no validation set"):
        clf.fit(X, y)


def test_lr_scheduler_drives_the_learning_rate(binary_data):
    X, y = binary_data
    sched = LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.1)
    clf = MLPClassifierGPU(max_iter=5, learning_rate_init=0.01, callbacks=[sched],
                           random_state=0).fit(X, y)
    rates = [r["lr"] for r in clf.history_]
    assert rates == pytest.approx([0.01, 0.01, 0.001, 0.001, 0.0001])  # rate used per epoch


def test_batch_hooks_called_once_per_step(binary_data):
    X, y = binary_data
    calls = []

    class Counter(Callback):
        def on_batch_end(self, trainer, batch_index, loss):
            calls.append(batch_index)

    MLPClassifierGPU(max_iter=2, batch_size=100, callbacks=[Counter()]).fit(X, y)
    assert calls == [0, 1, 2, 0, 1, 2]
    assert not Callback().wants_batches() and Counter().wants_batches()


def test_checkpoint_writes_loadable_tensors_atomically(binary_data, tmp_path):
    X, y = binary_data
    path = tmp_path / "ckpt-{epoch}.pt"
    ckpt = Checkpoint(path, every=2, on_best=False)
    clf = MLPClassifierGPU(max_iter=5, callbacks=[ckpt], random_state=0).fit(X, y)
    assert ckpt.saved_epochs_ == [2, 4]
    state = torch.load(tmp_path / "ckpt-4.pt", weights_only=True)
    assert state["progress"]["n_iter"] == 4 and len(state["progress"]["history"]) == 4
    assert set(state["module"]) == set(clf.module_.state_dict())
    assert not list(tmp_path.glob(".tmp-*"))


def test_epoch_logger_prints_one_line_per_epoch(binary_data, capsys):
    X, y = binary_data
    MLPClassifierGPU(max_iter=3, callbacks=[EpochLogger()]).fit(X, y, validation_data=(X, y))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 3 and "valid_score" in lines[0]


def test_returning_true_stops_training(binary_data):
    X, y = binary_data

    class StopAtTwo(Callback):
        def on_epoch_end(self, trainer, record):
            return record["epoch"] == 2

    clf = MLPClassifierGPU(max_iter=50, callbacks=[StopAtTwo()]).fit(X, y)
    assert clf.n_iter_ == 2


def test_history_indexes_by_column_like_skorch(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(
        X, y, validation_data=(X, y))
    history = clf.history_
    assert isinstance(history, list) and len(history) == 3
    assert history[:, "train_loss"] == clf.loss_curve_
    assert history[-1, "valid_score"] == history[-1]["valid_score"]
    assert history[:, ("epoch", "lr")] == [(1, 0.001), (2, 0.001), (3, 0.001)]
    assert history[1:][:, "epoch"] == [2, 3]
    frame = history.to_frame()
    assert list(frame.index) == [1, 2, 3] and frame["train_loss"].tolist() == clf.loss_curve_
    with pytest.raises(KeyError, match="no column 'accuracy'"):
        history[:, "accuracy"]


def test_progress_bar_advances_every_batch_and_stays(binary_data, capsys):
    from sklnn.callbacks import ProgressBar

    X, y = binary_data
    bar = ProgressBar(force=True)
    MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=3, batch_size=100, callbacks=[bar],
                     random_state=0).fit(X, y, validation_data=(X, y))
    assert bar.bar_.n == bar.bar_.total == 9  # 3 epochs of 3 batches
    assert bar.bar_.leave and "valid_score" in bar.bar_.postfix
    capsys.readouterr()
    lines = ProgressBar()  # pytest's captured stdout is not a terminal: a line per epoch
    MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=2, callbacks=[lines]).fit(X, y)
    assert lines.bar_ is None
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == ["epoch 1/2", "epoch 2/2"]
    assert "\r" not in out and "samples/s" in out and "loss" in out


def test_epoch_scoring_writes_any_scorer_to_the_history(binary_data):
    from sklearn.metrics import f1_score, log_loss, make_scorer

    from sklnn.callbacks import EpochScoring

    X, y = binary_data
    X_val, y_val = X[:100], y[:100]
    labels = np.array(["no", "yes"])
    scorers = [EpochScoring("accuracy"), EpochScoring("neg_log_loss"),
               EpochScoring(make_scorer(f1_score, pos_label="yes"), on_train=True,
                            name="f1_train")]
    clf = MLPClassifierGPU(hidden_layer_sizes=(6,), max_iter=4, callbacks=scorers,
                           random_state=0).fit(X[100:], labels[y[100:]],
                                               validation_data=(X_val, labels[y_val]))
    last = clf.history_[-1]
    assert last["valid_accuracy"] == pytest.approx(clf.score(X_val, labels[y_val]))
    assert last["valid_neg_log_loss"] == pytest.approx(
        -log_loss(labels[y_val], clf.predict_proba(X_val)), rel=1e-9)
    assert last["f1_train"] == pytest.approx(
        f1_score(labels[y[100:]], clf.predict(X[100:]), pos_label="yes"))
    assert len(clf.history_[:, "valid_accuracy"]) == 4
    assert not hasattr(clf, "_scoring_data")  # the fitted model keeps no copy of the data


def test_early_stopping_on_a_scored_metric_and_a_forecaster_score():
    from sklnn import RNNForecaster
    from sklnn.callbacks import EpochScoring

    rng = np.random.RandomState(0)
    X = rng.rand(120, 8)
    y = X[:, -1] * 3.0 + 100.0
    stopper = EarlyStopping(monitor="valid_r2", patience=2)
    model = RNNForecaster(hidden_size=4, num_layers=1, max_iter=40, early_stopping=True,
                          n_iter_no_change=np.inf, random_state=0,
                          callbacks=[EpochScoring("r2"), stopper]).fit(X, y)
    scores = model.history_[:, "valid_r2"]
    assert model.n_iter_ == len(scores) and stopper.best_ == max(scores)
    # the score is in the user's units: the same as the validation score the engine computes
    np.testing.assert_allclose(scores, model.history_[:, "valid_score"], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="has none"):
        MLPClassifierGPU(max_iter=1, callbacks=[EpochScoring("accuracy")]).fit(X, X[:, 0] > .5)


def test_hooks_get_keywords_and_callbacks_naming_fewer_keep_working(binary_data):
    X, y = binary_data
    seen = {"kwargs": [], "named": [], "bare": 0}

    class TakesAll(Callback):
        def on_batch_end(self, trainer, **kwargs):
            seen["kwargs"].append(sorted(kwargs))

    class NamesOne:  # duck-typed, written without **kwargs
        def on_epoch_end(self, trainer, record):
            seen["named"].append(record["epoch"])

        def on_train_begin(self, trainer):
            seen["bare"] += 1

    MLPClassifierGPU(max_iter=2, batch_size=150, callbacks=[TakesAll(), NamesOne()]).fit(X, y)
    assert seen["kwargs"] == [["batch_index", "loss"]] * 4
    assert seen["named"] == [1, 2]
    assert seen["bare"] == 1


@pytest.mark.parametrize("estimator", small_estimators(), ids=lambda e: type(e).__name__)
def test_callbacks_predict_and_score_mid_fit_on_every_estimator(estimator):
    X, y = small_data(estimator)
    seen = []

    class Probe(Callback):
        def on_epoch_end(self, trainer, *, record, **kwargs):
            model = trainer.estimator
            out = model.predict_proba(X) if is_classifier(model) else outputs(model, X)
            seen.append((out, model.score(X, y), trainer.module.training))

    model = clone(estimator).set_params(callbacks=[Probe()]).fit(X, y)
    assert len(seen) == model.n_iter_ == 2
    last, score, training = seen[-1]
    final = model.predict_proba(X) if is_classifier(model) else outputs(model, X)
    np.testing.assert_allclose(last, final, **F32_OUTPUT)  # the weights after that epoch
    assert score == pytest.approx(model.score(X, y), rel=1e-5, abs=1e-6)
    assert all(entry[2] for entry in seen)  # back in training mode after predicting


def test_named_callbacks_are_parameters_a_search_can_tune(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=30, random_state=0, callbacks=[
        ("stop", EarlyStopping(monitor="train_loss", patience=2, min_delta=10.0)),
        EpochLogger(stream=io.StringIO())])
    params = clf.get_params()
    assert params["callbacks__stop__patience"] == 2
    assert isinstance(params["callbacks__stop"], EarlyStopping)
    assert "callbacks__stop__patience" not in clf.get_params(deep=False)
    copy = clone(clf).set_params(callbacks__stop__patience=5)
    assert copy.get_params()["callbacks__stop__patience"] == 5
    assert clf.get_params()["callbacks__stop__patience"] == 2  # the clone's own callback
    # after the first epoch, min_delta=10 never counts as an improvement: training stops
    # `patience` epochs later
    search = GridSearchCV(clf, {"callbacks__stop__patience": [1, 3]}, cv=2).fit(X, y)
    assert [r["callbacks__stop__patience"] for r in search.cv_results_["params"]] == [1, 3]
    best = search.best_params_["callbacks__stop__patience"]
    assert search.best_estimator_.n_iter_ == 1 + best
    with pytest.raises(ValueError, match="no callback is named 'stp'"):
        clf.set_params(callbacks__stp__patience=1)
    with pytest.raises(ValueError, match="Invalid parameter 'patients'"):
        clf.set_params(callbacks__stop__patients=1)
    with pytest.raises(ValueError, match="names must be unique"):
        MLPClassifierGPU(callbacks=[("a", EpochLogger()), ("a", EpochLogger())]).fit(X, y)
