"""Callbacks: small objects whose hooks the training loop calls by name.

A hook receives the running :class:`~sklnn.engine.Trainer` (its ``module``,
``optimizer``, ``state`` and ``estimator``) positionally and everything else
as keyword arguments; see :class:`Callback`. Any object with at least one of
the hooks works as a callback.

- :mod:`~sklnn.callbacks._base`: :class:`Callback`, the hooks and their checks;
- training control: :class:`EarlyStopping`, :class:`LRScheduler`;
- scoring: :class:`EpochScoring`;
- logging: :class:`EpochLogger`, :class:`ProgressBar`;
- :class:`Checkpoint`: saving and resuming a fit.
"""

from sklnn.callbacks._base import Callback
from sklnn.callbacks._checkpoint import Checkpoint
from sklnn.callbacks._logging import EpochLogger, ProgressBar
from sklnn.callbacks._scoring import EpochScoring
from sklnn.callbacks._training import EarlyStopping, LRScheduler

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochLogger",
    "EpochScoring",
    "LRScheduler",
    "ProgressBar",
]
