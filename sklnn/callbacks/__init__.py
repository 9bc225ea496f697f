"""Callbacks: small objects whose hooks the training loop calls by name.

A hook receives the running :class:`~sklnn.engine.Trainer` (its ``module``,
``optimizer``, ``state`` and ``estimator``) positionally and everything else
as keyword arguments; see :class:`Callback`. Any object with at least one of
the hooks works as a callback.

- :mod:`~sklnn.callbacks._base`: :class:`Callback`, the hooks and their checks;
- training control: :class:`EarlyStopping`, :class:`LRScheduler`,
  :class:`GradientNormClipping`;
- transfer learning: :class:`Freezer`, :class:`Unfreezer`;
- scoring: :class:`EpochScoring`;
- logging: :class:`EpochLogger`, :class:`ProgressBar`, :class:`TensorBoard`;
- inspection: :class:`ActivationStatistics` (layers' input statistics in ``history_``);
- :class:`Checkpoint`: saving and resuming a fit.
"""

from sklnn.callbacks._activations import ActivationStatistics
from sklnn.callbacks._base import Callback
from sklnn.callbacks._checkpoint import Checkpoint
from sklnn.callbacks._logging import EpochLogger, ProgressBar, TensorBoard
from sklnn.callbacks._scoring import EpochScoring
from sklnn.callbacks._training import EarlyStopping, GradientNormClipping, LRScheduler
from sklnn.callbacks._transfer import Freezer, Unfreezer

__all__ = [
    "ActivationStatistics",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochLogger",
    "EpochScoring",
    "Freezer",
    "GradientNormClipping",
    "LRScheduler",
    "ProgressBar",
    "TensorBoard",
    "Unfreezer",
]
