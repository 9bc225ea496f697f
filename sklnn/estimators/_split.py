"""Training and validation batches from validated data: the split, the batch size and
the check that a validation set was transformed like the training data."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

from sklnn._warnings import warn_user
from sklnn.engine.batches import Batches
from sklnn.engine.solvers import STOCHASTIC_SOLVERS
from sklnn.estimators._streaming import StreamedX


class TrainingData:
    """How an estimator turns validated arrays into the engine's batches."""

    def _split(self, X, y, y_encoded, sample_weight, rng, validation_data, device, dtype):
        """Training batches, and validation batches when a validation set is used."""
        n = X.shape[0]
        valid = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "validation_data must be a pair (X_val, y_val); got "
                    f"{type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}"
                       if isinstance(validation_data, (tuple, list)) else "")
                    + "."
                )
            X_val, y_val = validation_data
            if self._streams(X_val):
                X_val = self._validate_streamed_X(X_val, reset=False)
            else:
                X_val = self._validate_X(X_val, reset=False)
                _warn_if_rescaled(X, X_val)
            y_val = self._check_validation_targets(y_val, X_val)
            valid = (X_val, self._encode_targets(y_val), None)
        elif self.early_stopping and self.solver in STOCHASTIC_SOLVERS:
            stratify = y if self._stratify and np.ndim(y) == 1 else None
            if stratify is not None:
                labels, counts = np.unique(stratify, return_counts=True)
                if counts.min() < 2:
                    raise ValueError(
                        "early_stopping=True holds out a stratified validation set, which "
                        "needs at least 2 samples of every class; these classes have only "
                        f"1: {labels[counts < 2].tolist()}. Add samples or set "
                        "early_stopping=False."
                    )
            arrays = [X, y_encoded] + ([] if sample_weight is None else [sample_weight])
            parts = train_test_split(
                *arrays, random_state=rng, test_size=self.validation_fraction, stratify=stratify
            )
            X, X_val, y_encoded, y_val_enc = parts[:4]
            if sample_weight is not None:
                sample_weight, w_val = parts[4:]
            else:
                w_val = None
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size "
                    "of your dataset."
                )
            valid = (X_val, y_val_enc, w_val)
            n = X.shape[0]
        batch_size = self._batch_size(n)
        target_dtype = self._make_objective().target_dtype or dtype
        min_batch = 2 if self._uses_batch_norm() else 1
        if n < min_batch:
            raise ValueError(
                f"batch_norm=True needs at least 2 training samples, got n_samples={n}; add "
                "samples or set batch_norm=False."
            )
        train = self._batches(X, [y_encoded, sample_weight], device=device, dtype=dtype,
                              other_dtypes=[target_dtype, dtype], batch_size=batch_size,
                              min_batch=min_batch)
        # the validated host arrays, for callbacks that score the model (EpochScoring)
        self._scoring_data = {"train": (X, y_encoded, sample_weight), "valid": valid}
        if valid is not None:
            valid = self._batches(valid[0], [valid[1], valid[2]], device=device, dtype=dtype,
                                  other_dtypes=[target_dtype, dtype],
                                  batch_size=max(batch_size, 4096))
        return train, valid

    def _batches(self, X, others, **settings):
        """Batches sliced from arrays in memory, or streamed from a Dataset or memmap."""
        if isinstance(X, StreamedX):
            return self._streamed_batches(X, others, **settings)
        return Batches(X, others, **settings)

    def _mid_fit_model(self, module, device, dtype):
        """A view of this (working) estimator that predicts with ``module`` as it is now,
        on rows that ``_split`` already validated."""
        view = self._view()
        view.module_, view.device_, view._compute_dtype = module, device, dtype
        view._validate_X = lambda X, reset=False: X
        return view

    def _uses_batch_norm(self) -> bool:
        return bool(getattr(self, "batch_norm", False))

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warn_user(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped")
        return int(np.clip(self.batch_size, 1, n_samples))


def _warn_if_rescaled(X, X_val) -> None:
    """Warn when validation features sit on another scale than the training features, the
    mark of a validation set that skipped a Pipeline's transformers."""
    if sp.issparse(X) or sp.issparse(X_val) or len(X) < 2 or len(X_val) < 2:
        return
    mean, std = X.mean(axis=0), X.std(axis=0)
    varying = std > 1e-12 * (1.0 + np.abs(mean))
    if not varying.any():
        return
    shift = np.abs(X_val.mean(axis=0) - mean)[varying] / std[varying]
    ratio = X_val.std(axis=0)[varying] / std[varying]
    if np.median(shift) > 5.0 or not 0.1 < np.median(ratio) < 10.0:
        warn_user(
            "validation_data's features are on another scale than the training data's "
            f"(median shift {np.median(shift):.1f} standard deviations, median spread ratio "
            f"{np.median(ratio):.2f}). Inside a Pipeline, fit receives transformed X but "
            "validation_data as given: transform X_val with the fitted steps first."
        )
