"""Autoencoders as scikit-learn transformers: the shared behaviour.

A network learns to reconstruct its input through ``n_components`` codes; ``transform``
gives the codes (where PCA would go in a Pipeline), ``inverse_transform`` the
reconstructions, ``score_samples`` the negative reconstruction error of each row (low
for rows unlike the training data: novelty detection). The training targets are the
validated input rows themselves, so everything else (devices, seeds, epochs, early
stopping, callbacks, ``partial_fit``, saving) is the engine's, as for every estimator.
The two architectures are in :mod:`sklnn.estimators._autoencoders`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted

from sklnn._sklearn_private import Interval, _fit_context
from sklnn._warnings import attributed_to_user
from sklnn.engine import fitting
from sklnn.engine.inference import predict_outputs
from sklnn.engine.objectives import ReconstructionLoss
from sklnn.estimators._base import NeuralNetBase, _stochastic
from sklnn.estimators._declarations import BOOL, Param
from sklnn.modules.inference import Encode, Predictor

AUTOENCODER_PARAMS = (
    Param("n_components", 2, (Interval(Integral, 1, None, closed="left"),), "int",
          "Number of codes per row (the width of the bottleneck).", positional=True),
)
OPTIONS = (
    Param("variational", False, BOOL, "bool", """
        A variational autoencoder (Kingma and Welling, 2014): the encoder gives
        a mean and a log-variance per code, training decodes codes sampled with
        the reparameterisation ``mean + exp(log_var / 2) * eps`` and adds
        ``kl_weight`` times their Kullback-Leibler divergence from N(0, I) to
        the loss. ``transform`` returns the means; ``sample`` draws new rows."""),
    Param("kl_weight", 1.0, (Interval(Real, 0.0, None, closed="left"),), "float", """
        Weight of the Kullback-Leibler term (variational only), per feature as
        the squared error is: 1 is the evidence lower bound of a Gaussian
        decoder of unit variance, suited to standardised features; data of
        smaller spread (pixels in [0, 1]) reconstruct better with less, e.g.
        0.1 (measured in the autoencoders guide)."""),
    Param("noise", 0.0, (Interval(Real, 0.0, None, closed="left"),), "float", """
        Standard deviation of Gaussian noise added to the input during training
        only: a denoising autoencoder, which learns to reconstruct the clean rows
        from corrupted ones. ``transform`` and the scores never add noise."""),
)


class AutoencoderBase(ClassNamePrefixFeaturesOutMixin, TransformerMixin, NeuralNetBase):
    """Transformer behaviour of the autoencoders; subclasses build the network."""

    # the targets are the input rows, held in memory; a Dataset cannot stream them
    _accepts_streams = False

    def _check_streamable(self) -> None:
        raise TypeError(
            f"{type(self).__name__} trains on its input rows as targets, so it cannot stream "
            "X from a torch Dataset; pass X as an array (a numpy memmap is read as one).")

    # --------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, *, validation_data=None):
        """Train the network to reconstruct X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored (accepted for Pipelines); checked for length when given.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the reconstruction loss.
        validation_data : array-like of shape (n_val, n_features), default=None
            Held-out rows scored every epoch (and used for early stopping) instead
            of a ``validation_fraction`` split of X.

        Returns
        -------
        self
        """
        held_out = None if validation_data is None else (validation_data, None)
        return self._fit(X, y, sample_weight, validation_data=held_out)

    @available_if(_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch over X, continuing from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_targets_and_features(self, X, y, *, incremental, reset, classes):
        if self._streams(X):
            self._check_streamable()
        X = self._validate_X(X, reset=reset)
        if y is not None:
            check_consistent_length(X, y)
        fitted = getattr(self, "module_", None)
        if not reset and fitted is not None and fitted.n_components != self.n_components:
            raise ValueError(
                f"n_components={self.n_components} but the fitted network has "
                f"{fitted.n_components} codes; set warm_start=False to start afresh.")
        return X, _dense(X)

    def _encode_targets(self, y):
        return y

    def _combine_weights(self, y, sample_weight):
        return sample_weight

    def _check_validation_targets(self, y_val, X_val):
        return _dense(X_val)

    def _make_objective(self):
        return ReconstructionLoss(self.n_features_in_,
                                  self.kl_weight if self.variational else None)

    def _commit(self, *args) -> None:
        super()._commit(*args)
        self._n_features_out = int(self.module_.n_components)

    def _restore_derived(self) -> None:
        self._n_features_out = int(self.n_components)

    def _predictor(self, network, dtype):
        # what transform returns: the inference module and its exports map rows to codes
        return Predictor(Encode(network), dtype=dtype)

    # ------------------------------------------------------------- transforms
    def transform(self, X):
        """The codes of X (the means of a variational autoencoder).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        model = self._view()  # one snapshot, even while another thread refits
        with attributed_to_user():
            X = model._validate_X(X, reset=False)
        k = model.module_.n_components  # also mid-fit, before _n_features_out is set
        return model._run(model.module_.encoder, X, lambda codes: codes[:, :k], X.dtype)

    def inverse_transform(self, X):
        """Reconstructed rows from codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as ``transform`` gives them.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            Flat rows (channels first for images).
        """
        check_is_fitted(self)
        model = self._view()
        with attributed_to_user():
            Z = check_array(X, dtype=[np.float64, np.float32])
        k = model.module_.n_components
        if Z.shape[1] != k:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__} is expecting "
                f"{k} features as input (the codes of transform).")
        return model._run(model.module_.decoder, Z, lambda rows: rows, Z.dtype)

    def _run(self, module, rows, decode, dtype) -> np.ndarray:
        batch_rows = self._predict_batch_rows()
        flops = min(rows.shape[0], batch_rows) * self._predict_flops_per_sample(self.module_)
        with fitting.prediction_scope(flops):
            out = predict_outputs(module, rows, device=self.device_, dtype=self._compute_dtype,
                                  batch_rows=batch_rows, decode=decode,
                                  autocast=self._inference_autocast())
        return out.astype(dtype if dtype in (np.float32, np.float64) else np.float64,
                          copy=False)

    def score_samples(self, X):
        """Negative mean squared reconstruction error of each row (higher: more typical).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        model = self._view()
        with attributed_to_user():
            X = model._validate_X(X, reset=False)
        reconstruction = model._forward_rows(X)
        return -np.mean((reconstruction - _dense(X)) ** 2, axis=1)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: the negative mean squared reconstruction error.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Rows decoded from codes drawn from the prior N(0, I) (``variational=True`` only).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        if not self.module_.variational:
            raise ValueError(
                f"sample draws from a variational autoencoder's prior, but this "
                f"{type(self).__name__} was fitted with variational=False; refit with "
                "variational=True.")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
        rng = check_random_state(random_state)
        codes = rng.standard_normal((int(n_samples), self.module_.n_components))
        return self.inverse_transform(codes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _dense(X):
    return X.toarray() if sp.issparse(X) else X
