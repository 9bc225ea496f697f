"""ActivationStatistics: what it records, that it reads only training batches, that its hooks
go away after the fit, and the display that draws it."""

import numpy as np
import pytest
import torch

from sklnn import CNNImageClassifier, MLPClassifierGPU
from sklnn.callbacks import ActivationStatistics
from sklnn.engine.hooks import has_module_hooks

matplotlib = pytest.importorskip("matplotlib", reason="the display needs matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklnn.plot import ActivationStatisticsDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _data(seed=0, n=96, d=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=0.5, scale=2.0, size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0.5).astype(int)


def _mlp(callback, **kwargs):
    return MLPClassifierGPU(hidden_layer_sizes=(8, 8), max_iter=3, batch_size=32,
                            random_state=0, callbacks=[callback], **kwargs)


def test_first_layer_input_is_the_training_data():
    """The first layer's input over an epoch is the training rows, whatever the validation
    data (evaluated in eval mode, which is not recorded): its mean and standard deviation
    are those of X_train, to float32 rounding."""
    X, y = _data()
    X_val = X[:40] + 100.0  # would move the statistics far if it were recorded
    callback = ActivationStatistics()
    with pytest.warns(UserWarning, match="another scale"):  # sklnn notices the shift
        clf = _mlp(callback).fit(X, y, validation_data=(X_val, y[:40]))
    first = callback.layer_names_[0]
    assert callback.layer_names_[-1] == "output" and len(callback.layer_names_) == 3
    for record in clf.history_:
        stats = record["activations"][first]
        assert stats["mean"] == pytest.approx(float(X.astype(np.float64).mean()), rel=1e-5)
        assert stats["std"] == pytest.approx(float(X.astype(np.float64).std()), rel=1e-5)
    assert len(clf.history_) == 3


def test_hooks_removed_after_fit_and_predict_unrecorded():
    X, y = _data()
    callback = ActivationStatistics(where="output")
    clf = _mlp(callback).fit(X, y)
    assert not has_module_hooks(clf.module_)
    before = [dict(r["activations"]) for r in clf.history_]
    clf.predict(X)
    assert [r["activations"] for r in clf.history_] == before
    # a second fit of the same callback starts clean: still one hook per layer, then none
    clf.fit(X, y)
    assert not has_module_hooks(clf.module_) and callback._handles == []


def test_every_k_batches_records_lists():
    X, y = _data()  # 96 rows, 32 per batch: batches 0, 1, 2; every=2 samples 0 and 2
    callback = ActivationStatistics(every=2)
    clf = _mlp(callback).fit(X, y)
    record = clf.history_[-1]
    assert record["activations_batches"] == [0, 2]
    for stats in record["activations"].values():
        assert len(stats["mean"]) == 2 and len(stats["std"]) == 2
        assert all(np.isfinite(stats["std"])) and min(stats["std"]) > 0


def test_layers_by_type_on_a_cnn_with_batch_norm():
    """Watching the activations' inputs (the pre-activations): batch norm centres them, so
    their mean over an epoch is near 0 and their std near 1 (the batch-norm scale starts at
    1 and moves little in 2 epochs)."""
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 8, 8), dtype=np.float32)
    y = np.arange(64) % 2
    callback = ActivationStatistics(layers=torch.nn.ReLU)
    clf = CNNImageClassifier(filters=(4,), dense_layers=(8,), batch_norm=True, max_iter=2,
                             batch_size=16, random_state=0, callbacks=[callback]).fit(X, y)
    assert len(callback.layer_names_) == 2  # after the convolution and the dense layer
    for stats in clf.history_[-1]["activations"].values():
        assert abs(stats["mean"]) < 0.2 and 0.7 < stats["std"] < 1.3


@pytest.mark.parametrize("kwargs, match", [
    ({"where": "middle"}, "where must be 'input' or 'output'"),
    ({"every": 0}, "every must be None"),
    ({"layers": ["no_such_layer"]}, "no layer 'no_such_layer'"),
    ({"layers": torch.nn.Conv2d}, "has no such layer"),
])
def test_bad_parameters(kwargs, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        _mlp(ActivationStatistics(**kwargs)).fit(X, y)


def test_display_draws_every_layer():
    X, y = _data()
    clf = _mlp(ActivationStatistics(every=1)).fit(X, y)
    disp = ActivationStatisticsDisplay.from_estimator(clf)
    assert len(disp.lines_) == 3
    mean_line, std_line = disp.lines_["output"]
    assert len(mean_line.get_xdata()) == 3 * 3  # 3 epochs of 3 batches
    assert np.all(np.diff(mean_line.get_xdata()) > 0)  # fractional epochs, in order
    assert max(mean_line.get_xdata()) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="no 'activations' entries"):
        ActivationStatisticsDisplay.from_history([{"epoch": 1, "train_loss": 1.0}])
