"""sklnn.plot's displays, drawn with matplotlib's Agg backend: their artists hold the data."""

import importlib
import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="sklnn.plot needs matplotlib (plot extra)")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklnn import CNNImageClassifier, MLPClassifierGPU, RNNForecaster, make_windows  # noqa: E402
from sklnn.callbacks import EpochScoring  # noqa: E402
from sklnn.plot import (  # noqa: E402
    ForecastDisplay,
    MisclassifiedImagesDisplay,
    TrainingCurveDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_modules_import_without_matplotlib(monkeypatch):
    """sklnn.plot imports matplotlib when a display draws, not when it is imported."""
    import sklnn.plot
    from sklnn.plot import _base, _forecast, _images, _training

    for name in [m for m in sys.modules if m.split(".")[0] in ("matplotlib", "mpl_toolkits")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    for module in (_base, _training, _forecast, _images, sklnn.plot):
        importlib.reload(module)
    with pytest.raises(ImportError, match=r"needs matplotlib: pip install 'sklnn\[plot\]'"):
        sklnn.plot.ForecastDisplay([0], [1.0], [1], [2.0]).plot()
    monkeypatch.undo()
    for module in (_base, _training, _forecast, _images, sklnn.plot):
        importlib.reload(module)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_training_curve_display():
    X = np.random.RandomState(0).randn(80, 3)
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=4, early_stopping=True,
                           n_iter_no_change=10, random_state=0,
                           callbacks=[EpochScoring("f1", on_train=True)]).fit(X, y)
    disp = TrainingCurveDisplay.from_estimator(clf)
    assert set(disp.lines_) == {"train_loss", "valid_loss", "valid_score", "train_f1"}
    for name, line in disp.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(line.get_ydata(), clf.history_[:, name])
    assert disp.lines_["train_loss"].axes is disp.ax_
    assert disp.lines_["train_f1"].axes is disp.score_ax_ is not disp.ax_
    assert disp.figure_ is disp.ax_.figure
    assert {t.get_text() for t in disp.ax_.get_legend().get_texts()} == set(disp.lines_)
    # only the asked columns, onto a given Axes; a missing one says what there is
    fig, ax = plt.subplots()
    disp = TrainingCurveDisplay.from_history(clf.history_, columns=["valid_loss"], ax=ax)
    assert disp.ax_ is ax and list(disp.lines_) == ["valid_loss"] and disp.score_ax_ is None
    with pytest.raises(ValueError, match="no column 'accuracy'.*train_loss"):
        TrainingCurveDisplay.from_history(clf.history_, columns=["accuracy"])
    with pytest.raises(ValueError, match="not fitted"):
        TrainingCurveDisplay.from_estimator(MLPClassifierGPU())


def test_forecast_display():
    t = np.arange(120)
    series = pd.Series(np.sin(t / 6.0), index=pd.date_range("2024-01-01", periods=120,
                                                              freq="D"))
    X, y = make_windows(series.to_numpy()[:100], lookback=12)
    model = RNNForecaster(cell="gru", hidden_size=8, num_layers=1, max_iter=3,
                          learning_rate_init=0.02, random_state=0).fit(X, y)
    history, truth = series[:100], series[100:]
    disp = ForecastDisplay.from_estimator(model, history, truth)
    expected = model.forecast(history, 20)
    np.testing.assert_allclose(disp.forecast_line_.get_ydata(), expected.to_numpy())
    np.testing.assert_allclose(disp.truth_line_.get_ydata(), truth.to_numpy())
    np.testing.assert_allclose(disp.history_line_.get_ydata(), history.to_numpy())
    # the x axis continues the series' dates
    assert pd.Timestamp(disp.forecast_line_.get_xdata()[0]) == truth.index[0]
    # a plain array: positions after the history, horizon_ steps without y_true
    fig, ax = plt.subplots()
    disp = ForecastDisplay.from_estimator(model, history.to_numpy(), ax=ax)
    assert disp.ax_ is ax and disp.truth_line_ is None
    np.testing.assert_array_equal(disp.forecast_line_.get_xdata(), [100])
    with pytest.raises(ValueError, match="steps=3 but y_true holds 20"):
        ForecastDisplay.from_estimator(model, history, truth, steps=3)


def test_misclassified_images_display():
    rng = np.random.RandomState(0)
    images = rng.rand(40, 8, 8, 3)
    y = rng.randint(0, 3, size=40)  # noise labels: some predictions are wrong
    clf = CNNImageClassifier(filters=(4,), dense_layers=(8,), max_iter=2, batch_size=20,
                             random_state=0).fit(images, y)
    wrong = np.flatnonzero(clf.predict(images) != y)
    assert len(wrong) > 0
    disp = MisclassifiedImagesDisplay.from_estimator(clf, images, y, max_images=6)
    shown = wrong[:6]
    assert len(disp.images_) == len(shown) and disp.ax_.size >= len(shown)
    np.testing.assert_array_equal(disp.indices, shown)
    # the first image drawn is that sample, RGB, scaled to [0, 1] for display
    first = images[shown[0]]
    np.testing.assert_allclose(disp.images_[0].get_array(),
                               (first - first.min()) / (first.max() - first.min()))
    title = disp.ax_.ravel()[0].get_title()
    assert title == f"#{shown[0]}: true {y[shown[0]]}, pred {clf.predict(images)[shown[0]]}"
    assert disp.figure_ is disp.ax_.ravel()[0].figure
    with pytest.raises(TypeError, match="not an image classifier"):
        MisclassifiedImagesDisplay.from_estimator(
            MLPClassifierGPU(max_iter=1).fit([[0.0], [1.0]], [0, 1]), [[0.0]], [0])
