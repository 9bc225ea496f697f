"""Which estimators can be saved, and which of their fitted attributes a file holds.

The list is explicit: a file names its estimator by class name, and only the classes
named here, defined inside sklnn, are ever built from a file. The estimators' base class
registers every subclass as it is defined (``NeuralNetBase.__init_subclass__``), and
:func:`register` keeps those this table names, so persistence never imports the
estimators (or ``sklnn``) itself.

Each estimator saves exactly the attributes listed for it. Private helpers derived from
the parameters and the network (batch sizing, FLOP estimates) are not part of the format:
the estimator measures them again when it needs them.
"""

from __future__ import annotations

# Every estimator: what training has done and what the network looks like from outside.
_COMMON = (
    "n_features_in_", "n_iter_", "t_", "loss_", "loss_curve_", "history_",
    "validation_scores_", "best_validation_score_", "best_loss_", "n_outputs_",
    "n_layers_", "out_activation_",
)
_CLASSIFIER = ("classes_",)
_IMAGES = ("input_shape_",)
_SEQUENCES = ("sequence_shape_",)
_USER_MODULE = ("input_shape_", "_output_kind", "_integer_input")
_FORECASTER = ("horizon_", "_per_step_targets", "_first_trained_step", "_input_mean",
               "_input_scale", "_target_mean", "_target_scale")

SAVED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "MLPClassifierGPU": _COMMON + _CLASSIFIER,
    "MLPRegressorGPU": _COMMON,
    "CNNImageClassifier": _COMMON + _CLASSIFIER + _IMAGES,
    "ResNetClassifier": _COMMON + _CLASSIFIER + _IMAGES,
    "RNNClassifier": _COMMON + _CLASSIFIER + _SEQUENCES,
    "CNNSequenceClassifier": _COMMON + _CLASSIFIER + _SEQUENCES,
    "RNNForecaster": _COMMON + _SEQUENCES + _FORECASTER,
    "NeuralNetClassifier": _COMMON + _CLASSIFIER + _USER_MODULE,
    "NeuralNetRegressor": _COMMON + _USER_MODULE,
    "MLPAutoencoder": _COMMON,
    "ConvAutoencoder": _COMMON + _IMAGES,
}
# Saved when present: feature names (fitted on a DataFrame with string column names), and
# the fit's thread count and the forecaster's choice of forecast (absent from files written
# before they existed).
OPTIONAL_ATTRIBUTES = ("feature_names_in_", "n_threads_", "_keyword_inputs", "uses_network_")

# Parameters added to an estimator after files were written without them, with the value
# that rebuilds the network those files hold (a file that lacks one was trained without it).
PARAMS_BEFORE_THEY_EXISTED: dict[str, dict[str, object]] = {
    "RNNClassifier": {"stem_channels": None},
}

_CLASSES: dict[str, type] = {}


def register(cls: type) -> None:
    """Record ``cls`` as saveable if the table names it and sklnn defines it."""
    if cls.__name__ in SAVED_ATTRIBUTES and cls.__module__.startswith("sklnn."):
        _CLASSES[cls.__name__] = cls


def saveable_class(name) -> type | None:
    """The registered class called ``name``, or None."""
    return _CLASSES.get(name) if isinstance(name, str) else None


def saved_attributes(name: str) -> tuple[str, ...]:
    return SAVED_ATTRIBUTES[name]
