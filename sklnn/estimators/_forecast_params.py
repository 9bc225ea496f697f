"""The forecaster's own parameters, declared once: defaults, constraints and docs
(:mod:`sklnn.estimators._declarations`); ``RNNForecaster.__init__`` agrees with them."""

from __future__ import annotations

from numbers import Integral

from sklnn._sklearn_private import Interval, StrOptions
from sklnn.estimators._declarations import BOOL, Param, engine_params
from sklnn.estimators._forecast_transforms import _check_quantiles
from sklnn.estimators._recurrent import RECURRENT_PARAMS

FORECASTER_PARAMS = (
    Param("training_target", "last", (StrOptions({"last", "sequence"}),),
          '{"last", "sequence"}', """
        "last" (sequence-to-vector) trains on the ``horizon`` values after the
        window's last step only. "sequence" (sequence-to-sequence) trains the
        network to forecast the next ``horizon`` values after *every* step,
        which gives many more error signals per window. The validation score
        for early stopping is the R^2 of the last step's forecasts. The per-step
        targets are built from the window and ``y``: the series is the window's
        ``target_feature`` column followed by ``y``, and the target after step
        t is the ``horizon`` values that follow it. So ``y`` is given exactly
        as for "last" (the continuation of the series), and ``predict`` returns
        the forecast after the last step, also as for "last". Requires the
        forecast quantity to be an input feature and ``bidirectional=False``."""),
    Param("burn_in", 0, (Interval(Integral, 0, None, closed="left"),), "int", """
        With ``training_target="sequence"``, the steps at the start of each
        window whose forecasts are left out of the loss. Forecasts made after
        seeing only a few values are poor whatever the weights, and their large
        errors would otherwise dominate the gradient."""),
    Param("target_feature", 0, (Interval(Integral, 0, None, closed="left"),), "int",
          'Which input feature ``y`` continues, for ``training_target="sequence"``.'),
    Param("differencing", 1, (Interval(Integral, 0, 1, closed="both"),), "{0, 1}", """
        1 trains on the changes from one step to the next instead of the
        levels (every input feature, and the targets, whose first change is
        measured from the window's last value of ``target_feature``);
        predictions are summed back onto that last value. A trend then becomes
        a level the network can learn, instead of values outside everything
        it was trained on. 0 uses the levels."""),
    Param("instance_norm", True, BOOL, "bool", """
        Standardise each window by its own mean and standard deviation (per
        feature, after differencing), and its targets by those of
        ``target_feature`` (RevIN's per-window scaling). Predictions are mapped
        back with the same window's statistics, so series of any level and
        scale share one network."""),
    Param("season_length", None, (Interval(Integral, 1, None, closed="left"), None),
          "int or None", """
        Steps per season (12 for monthly data with a yearly cycle). When set,
        the network forecasts the deviations from each window's seasonal-naive
        forecast (the window's last season, repeated), which ``predict`` adds
        back: a network that has learnt nothing forecasts seasonal naive. With
        ``instance_norm`` the deviations are scaled, not centred, by the spread
        of the window's own season-to-season changes; ``differencing`` applies
        to them. Windows need at least ``season_length`` steps; needs
        ``training_target="last"``."""),
    Param("scale", True, BOOL, "bool", "Standardise inputs and targets as described above."),
    Param("loss", "squared_error",
          (StrOptions({"squared_error", "absolute_error", "huber", "quantile"}),),
          '{"squared_error", "absolute_error", "huber", "quantile"}', """
        Training loss on the standardised targets ("squared_error" is half the
        squared error, as in scikit-learn's MLP). "quantile" trains one output
        per value of ``quantiles`` with the pinball loss: ``predict`` returns
        the quantile nearest the median, ``predict_quantiles`` all of them."""),
    Param("quantiles", (0.1, 0.5, 0.9), ("array-like",), "sequence of float", """
        Increasing levels in (0, 1) forecast with ``loss="quantile"`` (ignored
        otherwise).""", check=lambda name, value: _check_quantiles(value)),
    *RECURRENT_PARAMS,
    *engine_params(),
)
