"""MLPClassifierGPU against scikit-learn's documented MLPClassifier behaviour."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tolerances import F64_OUTPUT

from sklnn import MLPClassifierGPU
from sklnn.callbacks import Callback
from sklnn.datasets import make_gaussian_blobs


def test_lecture_gaussian_blobs_reach_bayes_limit():
    # The lecture's first example: 2 inputs, 100 ReLU units, sigmoid output, 100 epochs.
    X, y = make_gaussian_blobs(10_000, random_state=0)
    X_test, y_test = make_gaussian_blobs(10_000, random_state=1)
    clf = MLPClassifierGPU(hidden_layer_sizes=(100,), max_iter=100, random_state=0).fit(X, y)
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 1
    assert clf.score(X_test, y_test) >= 0.91


def test_same_random_state_gives_identical_predictions(binary_data):
    X, y = binary_data
    a = MLPClassifierGPU(hidden_layer_sizes=(16,), max_iter=20, random_state=3).fit(X, y)
    b = MLPClassifierGPU(hidden_layer_sizes=(16,), max_iter=20, random_state=3).fit(X, y)
    c = MLPClassifierGPU(hidden_layer_sizes=(16,), max_iter=20, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


def test_dropout_is_reproducible_and_leaves_global_rng_alone(binary_data):
    X, y = binary_data
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    params = dict(hidden_layer_sizes=(32,), dropout=0.3, max_iter=5, random_state=0)
    a = MLPClassifierGPU(**params).fit(X, y)
    assert torch.rand(1).item() == expected_next.item()
    b = MLPClassifierGPU(**params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_multiclass_string_and_pandas_labels(multiclass_data):
    X, y = multiclass_data
    names = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifierGPU(hidden_layer_sizes=(32,), max_iter=200, random_state=0, device="cpu")
    clf.fit(pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]), pd.Series(names))
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    proba = clf.predict_proba(pd.DataFrame(X, columns=clf.feature_names_in_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, **F64_OUTPUT)
    pred = clf.predict(pd.DataFrame(X, columns=clf.feature_names_in_))
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert (pred == names).mean() > 0.9
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), **F64_OUTPUT)


def test_multilabel_indicator_targets():
    rng = np.random.RandomState(0)
    X = rng.randn(400, 6)
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < 0.5]).astype(int)
    clf = MLPClassifierGPU(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.n_outputs_ == 3 and clf.out_activation_ == "logistic"
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    assert clf.score(X, Y) > 0.85  # subset accuracy
    assert clf.predict_proba(X).shape == (400, 3)


def test_coefs_have_sklearn_shapes(multiclass_data):
    X, y = multiclass_data
    ours = MLPClassifierGPU(hidden_layer_sizes=(7, 5), max_iter=3, random_state=0).fit(X, y)
    theirs = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=3, random_state=0).fit(X, y)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert ours.n_layers_ == theirs.n_layers_ == 4
    # coefs_ drive the predictions: a manual numpy forward pass gives the same probabilities
    h = X
    for W, b in zip(ours.coefs_[:-1], ours.intercepts_[:-1]):
        h = np.maximum(h @ W + b, 0)
    logits = h @ ours.coefs_[-1] + ours.intercepts_[-1]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(ours.predict_proba(X), expected, rtol=1e-6, atol=1e-10)


def test_n_iter_no_change_stops_like_sklearn(binary_data):
    X, y = binary_data
    params = dict(hidden_layer_sizes=(10,), tol=10.0, n_iter_no_change=4, random_state=0)
    ours = MLPClassifierGPU(**params).fit(X, y)
    theirs = MLPClassifier(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 6
    assert len(ours.loss_curve_) == ours.n_iter_
    assert ours.best_loss_ == min(ours.loss_curve_)
    assert ours.t_ == X.shape[0] * ours.n_iter_


def test_early_stopping_restores_best_weights(binary_data):
    X, y = binary_data
    X_val, y_val = X[:100], 1 - y[:100]  # flipped labels: later epochs get worse on it
    clf = MLPClassifierGPU(
        hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=5, max_iter=200,
        random_state=0,
    ).fit(X[100:], y[100:], validation_data=(X_val, y_val))
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)
    # the last epoch's score is worse than the restored one
    assert clf.validation_scores_[-1] < clf.best_validation_score_
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_


def test_early_stopping_split_is_stratified_and_recorded(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(16,), early_stopping=True, max_iter=30,
                           validation_fraction=0.2, random_state=0).fit(X, y)
    assert clf.t_ == clf.n_iter_ * 240  # 80% of 300 rows are trained on
    assert all(r["valid_score"] is not None for r in clf.history_)


def test_partial_fit_requires_classes_then_rejects_unseen(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "classes_")
    clf.partial_fit(X[:50], y[:50], classes=[0, 1])
    assert clf.n_iter_ == 1 and clf.t_ == 50
    clf.partial_fit(X[50:], y[50:])
    assert clf.n_iter_ == 1 and clf.t_ == 300  # n_iter_ counts this call's epochs, as sklearn
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:10], np.full(10, 7))
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.n_iter_ == 1 and clf.t_ == 300


def test_partial_fit_improves_and_is_unavailable_for_lbfgs(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(16,), random_state=0)
    losses = []
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1])
        losses.append(clf.loss_)
    assert losses[-1] < 0.7 * losses[0]
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 30
    assert not hasattr(MLPClassifierGPU(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifierGPU(early_stopping=True).partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start_counts_each_call_and_warns_like_sklearn(binary_data, solver):
    X, y = binary_data
    for cls in (MLPClassifier, MLPClassifierGPU):
        clf = cls(hidden_layer_sizes=(4,), solver=solver, max_iter=3, warm_start=True,
                  random_state=0)
        for _ in range(2):
            with pytest.warns(ConvergenceWarning):
                clf.fit(X, y)
            assert clf.n_iter_ == 3, cls  # the epochs (iterations) of this call
        if solver != "lbfgs":
            assert clf.t_ == 6 * len(y) and len(clf.loss_curve_) == 6, cls


def test_warm_start_continues_training(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(16,), max_iter=5, warm_start=True, random_state=0)
    clf.fit(X, y)
    first_curve = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10
    assert clf.loss_curve_[:5] == first_curve
    assert clf.loss_curve_[5] < first_curve[0]
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X, np.where(y == 1, 2, y) + (y == 0) * 5)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10  # the failed fit changed nothing
    cold = MLPClassifierGPU(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 5


def test_sparse_input_matches_dense(binary_data):
    X, y = binary_data
    X = np.where(np.abs(X) < 0.8, 0.0, X)
    params = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    dense = MLPClassifierGPU(**params).fit(X, y)
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        sparse = MLPClassifierGPU(**params).fit(fmt(X), y)
        np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X),
                                   rtol=1e-9, atol=1e-9)


def test_integer_sample_weights_equal_repeated_rows_with_lbfgs(binary_data):
    X, y = binary_data
    weights = np.random.RandomState(0).randint(0, 3, size=len(y))
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50, random_state=0,
                  device="cpu")
    weighted = MLPClassifierGPU(**params).fit(X, y, sample_weight=weights)
    repeated = MLPClassifierGPU(**params).fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-5,
                               atol=1e-5)


def test_class_weight_shifts_predictions(binary_data):
    X, y = binary_data
    params = dict(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
    plain = MLPClassifierGPU(**params).fit(X, y)
    heavy = MLPClassifierGPU(**params, class_weight={0: 1.0, 1: 20.0}).fit(X, y)
    assert heavy.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
    assert heavy.predict(X).mean() > plain.predict(X).mean()
    balanced = MLPClassifierGPU(**params, class_weight="balanced").fit(X, y)
    assert balanced.score(X, y) > 0.8
    with pytest.raises(ValueError, match="class_weight names labels not in y"):
        MLPClassifierGPU(class_weight={5: 1.0}).fit(X, y)


def test_penalised_loss_matches_sklearn_definition(binary_data):
    # alpha is scaled as in scikit-learn: 0.5 * alpha * ||W||^2 / n_samples on top of log-loss.
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(6,), solver="lbfgs", alpha=3.0, max_iter=30,
                           random_state=0).fit(X, y)
    p = clf.predict_proba(X)[:, 1]
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    penalty = 0.5 * 3.0 * sum((W**2).sum() for W in clf.coefs_) / len(y)
    assert clf.loss_ == pytest.approx(log_loss + penalty, rel=1e-6)


def test_sgd_invscaling_and_adaptive_schedules(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
                           power_t=0.5, max_iter=4, random_state=0).fit(X, y)
    for record in clf.history_:
        # the rate used in epoch k was set after k - 1 epochs of samples
        expected = 0.1 / ((record["epoch"] - 1) * len(y) + 1) ** 0.5
        assert record["lr"] == pytest.approx(expected)
    adaptive = MLPClassifierGPU(solver="sgd", learning_rate="adaptive", learning_rate_init=0.01,
                                tol=10.0, n_iter_no_change=2, max_iter=12,
                                random_state=0).fit(X, y)
    rates = [r["lr"] for r in adaptive.history_]
    assert rates[0] == pytest.approx(0.01)
    assert min(rates) == pytest.approx(0.01 / 25) or min(rates) < 0.01 / 5


def test_convergence_warning_at_max_iter(binary_data):
    X, y = binary_data
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifierGPU(max_iter=3, random_state=0).fit(X, y)


def test_verbose_prints_sklearn_style_lines(binary_data, capsys):
    X, y = binary_data
    MLPClassifierGPU(max_iter=2, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


def test_diverging_first_epoch_raises_and_leaves_estimator_unfitted(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(solver="sgd", learning_rate_init=1e6, momentum=0.0, max_iter=5,
                           random_state=0)
    with pytest.raises(ValueError, match="non-finite"):
        clf.fit(X * 1e300, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "n_features_in_")


class _PoisonWeightsAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            with torch.no_grad():
                next(trainer.module.parameters()).fill_(float("nan"))


def test_loss_diverging_later_keeps_last_finite_weights(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=20, random_state=0, callbacks=[_PoisonWeightsAt(3)])
    with pytest.warns(RuntimeWarning, match="non-finite"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert all(np.isfinite(W).all() for W in clf.coefs_)
    three_epochs = MLPClassifierGPU(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), three_epochs.predict_proba(X))


class _InterruptAt(Callback):
    def __init__(self, epoch, exc):
        self.epoch, self.exc = epoch, exc

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise self.exc


def test_keyboard_interrupt_keeps_weights_and_warns(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=50, random_state=0,
                           callbacks=[_InterruptAt(3, KeyboardInterrupt)])
    with pytest.warns(RuntimeWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert clf.score(X, y) > 0.5


def test_failing_callback_leaves_previous_model_intact(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(callbacks=[_InterruptAt(5, RuntimeError("boom"))])
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.n_iter_ == 3 and len(clf.history_) == 3
    fresh = MLPClassifierGPU(max_iter=10, callbacks=[_InterruptAt(2, RuntimeError("boom"))])
    with pytest.raises(RuntimeError):
        fresh.fit(X, y)
    with pytest.raises(NotFittedError):
        fresh.predict(X)


def test_predict_rejects_wrong_feature_count_and_nan(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(X_bad)
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifierGPU().fit(X_bad, y)


def test_pickle_joblib_and_clone_round_trip(binary_data, tmp_path):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict(X), clf.predict(X))
    assert all(p.device.type == "cpu" for p in clf.__getstate__()["module_"].parameters())
    fresh = clone(clf)
    assert not hasattr(fresh, "module_")
    assert fresh.get_params() == clf.get_params()


def test_grid_search_over_pipeline_in_parallel_matches_sklearn(binary_data):
    # An int random_state starts from scikit-learn's own initial weights, so the same
    # search over scikit-learn's MLP picks the same candidate with the same scores (float64
    # rounding and thread count aside).
    X, y = binary_data
    searches = []
    for cls, n_jobs in ((MLPClassifierGPU, 2), (MLPClassifier, 1)):
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", cls(max_iter=100, random_state=0))])
        search = GridSearchCV(pipe, {"mlp__hidden_layer_sizes": [(8,), (16,)]}, cv=2,
                              n_jobs=n_jobs)
        searches.append(search.fit(X, y))
    ours, theirs = searches
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], atol=0.02)
    assert ours.score(X, y) > 0.8


def test_float32_input_is_computed_in_float32(binary_data):
    X, y = binary_data
    clf32 = MLPClassifierGPU(max_iter=3, random_state=0, device="cpu").fit(X.astype(np.float32), y)
    clf64 = MLPClassifierGPU(max_iter=3, random_state=0, device="cpu").fit(X, y)
    assert next(clf32.module_.parameters()).dtype == torch.float32
    assert next(clf64.module_.parameters()).dtype == torch.float64
    assert clf32.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert clf64.predict_proba(X).dtype == np.float64
    np.testing.assert_allclose(clf32.predict_proba(X), clf64.predict_proba(X), atol=1e-3)


def test_bfloat16_autocast_trains_on_cpu(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=50, precision="bfloat16", random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).dtype == torch.float32
    assert clf.score(X, y) > 0.85


def test_thread_setting_is_restored(binary_data):
    X, y = binary_data
    before = torch.get_num_threads()
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, trainer, record):
            seen.append(torch.get_num_threads())

    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=2, callbacks=[Spy()]).fit(X, y)
    clf.predict(X)
    assert seen == [1, 1]  # a 8-4-1 network trains on one thread
    assert torch.get_num_threads() == before


def test_device_parameter(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=2, device="cpu").fit(X, y)
    assert clf.device_ == torch.device("cpu")
    with pytest.raises(ValueError, match="not a device name"):
        MLPClassifierGPU(device="toaster").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            MLPClassifierGPU(device="cuda").fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(activation="swish"), "activation"),
        (dict(solver="rmsprop"), "solver"),
        (dict(batch_size=0), "batch_size"),
        (dict(learning_rate_init=0.0), "learning_rate_init"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(precision="float8"), "precision"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_invalid_parameters_are_named(binary_data, params, message):
    X, y = binary_data
    with pytest.raises(ValueError, match=message):
        MLPClassifierGPU(**params).fit(X, y)


def test_batch_norm_and_activations_train(binary_data):
    X, y = binary_data
    for activation in ("identity", "logistic", "tanh", "relu", "leaky_relu", "gelu"):
        clf = MLPClassifierGPU(hidden_layer_sizes=(16, 8), activation=activation,
                               batch_norm=True, max_iter=30, random_state=0).fit(X, y)
        assert clf.score(X, y) > 0.8, activation
    summary = clf.summary(print_fn=None)
    assert summary.total_params == sum(p.numel() for p in clf.module_.parameters())
    assert sum(r.n_params for r in summary.rows) == summary.total_params
    assert any(r.layer.endswith("BatchNorm1d") for r in summary.rows)


def test_oversized_batch_is_clipped_with_warning(binary_data):
    X, y = binary_data
    with pytest.warns(UserWarning, match="clipped"):
        MLPClassifierGPU(batch_size=10_000, max_iter=2).fit(X, y)


def test_no_warning_for_readonly_input(binary_data):
    X, y = binary_data
    X = X.copy()
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifierGPU(max_iter=200, random_state=0).fit(X, y).predict(X)


def test_torch_tensor_input_gives_numpy_output(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=3, random_state=0).fit(torch.from_numpy(X), torch.from_numpy(y))
    out = clf.predict_proba(torch.from_numpy(X))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, clf.predict_proba(X))
