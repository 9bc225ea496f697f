"""Classification and regression behaviour shared by all sklnn estimators.

Labels, probabilities, class weights and partial-fit class bookkeeping for
classifiers; numeric targets and output shapes for regressors. Network
architecture lives in the concrete estimators.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)

from sklnn.engine.objectives import BinaryLogLoss, RegressionLoss, SoftmaxLogLoss
from sklnn.estimators._base import NeuralNetBase


class NeuralClassifier(ClassifierMixin, NeuralNetBase):
    """Classifier behaviour: binary, multiclass and multilabel (indicator) targets."""

    _stratify = True

    def _validate_targets_and_features(self, X, y, *, incremental, reset, classes):
        X, y = self._validate_input(X, y, reset=reset, y_numeric=False)
        check_classification_targets(y)
        if incremental and not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: the full list of "
                    "labels the model will ever see, e.g. classes=np.unique(y_all)."
                )
            classes = unique_labels(np.asarray(classes))
            if type_of_target(y).startswith("multilabel"):
                # as scikit-learn: the indicator matrix's columns are the classes
                binarizer = LabelBinarizer().fit(y)
                if len(classes) != len(binarizer.classes_):
                    raise ValueError(
                        f"classes={classes.tolist()} names {len(classes)} labels but the "
                        f"multilabel y has {len(binarizer.classes_)} columns."
                    )
            else:
                binarizer = LabelBinarizer().fit(classes)
                unseen = np.setdiff1d(unique_labels(y), binarizer.classes_)
                if len(unseen):
                    raise ValueError(f"`y` has classes not in `classes`: {unseen}.")
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        elif not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            if incremental and classes is not None and not np.array_equal(
                unique_labels(np.asarray(classes)), self.classes_
            ):
                raise ValueError(
                    f"`classes={list(classes)!r}` is not the same as on the first call to "
                    f"partial_fit, which was {self.classes_.tolist()!r}; pass the same classes "
                    "or none after the first call."
                )
            seen = unique_labels(y)
            if self.warm_start and not incremental:
                if set(seen) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {seen}"
                    )
            elif len(np.setdiff1d(seen, self.classes_)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}."
                    f" 'y' has {seen}. Pass every class to the first partial_fit call."
                )
        return X, y

    def _check_validation_targets(self, y_val, X_val):
        y_val = np.asarray(y_val)
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(
                f"validation_data has {X_val.shape[0]} samples in X but {y_val.shape[0]} in y."
            )
        unseen = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unseen):
            raise ValueError(f"validation_data has labels not seen in y: {unseen}.")
        return y_val

    def _combine_weights(self, y, sample_weight):
        class_weight = self.class_weight
        if class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            raise ValueError("class_weight is not supported for multilabel targets.")
        if isinstance(class_weight, dict):
            missing = set(class_weight) - set(self.classes_.tolist())
            if missing:
                raise ValueError(f"class_weight names labels not in y: {sorted(missing)}.")
        weights = compute_sample_weight(class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _is_multiclass(self) -> bool:
        return self._label_binarizer.y_type_ == "multiclass"

    def _encode_targets(self, y):
        if self._is_multiclass():
            return np.searchsorted(self.classes_, y)
        return self._label_binarizer.transform(y).astype(np.float64)

    def _n_outputs_for(self, y_encoded):
        return len(self.classes_)

    def _decode_targets(self, y_encoded):
        """Encoded targets back to the user's labels."""
        if self._is_multiclass():
            return self.classes_[np.asarray(y_encoded, dtype=np.intp)]
        return self._label_binarizer.inverse_transform(np.asarray(y_encoded))

    def _make_objective(self):
        return SoftmaxLogLoss() if self._is_multiclass() else BinaryLogLoss()

    def predict_proba(self, X):
        """Probability of each class, columns ordered as in ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        model = self._view()  # one snapshot, even while another thread refits
        proba = model._forward(X)
        if len(model.classes_) == 1:
            return np.ones((proba.shape[0], 1), dtype=proba.dtype)
        if model._label_binarizer.y_type_ == "binary" and proba.shape[1] == 1:
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Natural log of :meth:`predict_proba`."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba)

    def predict(self, X):
        """Predicted labels (an indicator matrix for multilabel targets).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        model = self._view()  # one snapshot, even while another thread refits
        proba = model._forward(X)
        if proba.shape[1] == 1:
            proba = proba.ravel()
        return model._label_binarizer.inverse_transform(proba)

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy on (X, y), as scikit-learn's classifiers.

        ``y`` may be None only when X is a Dataset of ``(x, y)`` pairs (as in ``fit``):
        the targets are read from it.
        """
        return super().score(X, self._targets_for_score(X, y), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NeuralRegressor(RegressorMixin, NeuralNetBase):
    """Regressor behaviour: one or several numeric outputs."""

    def score(self, X, y=None, sample_weight=None):
        """Coefficient of determination R^2 on (X, y), as scikit-learn's regressors.

        ``y`` may be None only when X is a Dataset of ``(x, y)`` pairs (as in ``fit``):
        the targets are read from it.
        """
        return super().score(X, self._targets_for_score(X, y), sample_weight=sample_weight)

    def _validate_targets_and_features(self, X, y, *, incremental, reset, classes):
        if classes is not None:
            raise ValueError(
                f"classes={classes!r} names the labels of a classifier; "
                f"{type(self).__name__} is a regressor: call partial_fit(X, y) without it."
            )
        X, y = self._validate_input(X, y, reset=reset, y_numeric=True)
        if getattr(self, "loss", None) == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression."
            )
        if not reset and hasattr(self, "n_outputs_"):
            n_outputs = 1 if y.ndim == 1 else y.shape[1]
            if n_outputs != self.n_outputs_:
                raise ValueError(
                    f"y has {n_outputs} outputs but the model was fitted with {self.n_outputs_}; "
                    "set warm_start=False to start afresh."
                )
        return X, y

    def _check_validation_targets(self, y_val, X_val):
        y_val = np.asarray(y_val, dtype=np.float64)
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(
                f"validation_data has {X_val.shape[0]} samples in X but {y_val.shape[0]} in y."
            )
        return y_val

    def _combine_weights(self, y, sample_weight):
        return sample_weight

    def _encode_targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _decode_targets(self, y_encoded):
        y = np.asarray(y_encoded, dtype=np.float64)
        return y.ravel() if y.shape[1] == 1 else y

    def _make_objective(self):
        return RegressionLoss(self.loss)

    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
