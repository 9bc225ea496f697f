"""scikit-learn's callback API (``sklearn.callback``, experimental from 1.9) for sklnn.

Every sklnn estimator gets ``set_callbacks`` through :class:`SklearnCallbacks`. Its fit
is one task whose subtasks are the epochs (``fit -> epoch``), so scikit-learn's
``ScoringMonitor`` and ``ProgressBar`` follow training on a bare estimator and inside a
``Pipeline`` or ``GridSearchCV`` (which propagate their callbacks and attach the
estimator's task tree to theirs). A callback whose ``on_fit_task_end`` returns True at
an epoch stops training there. Epochs are the leaves: a task per batch would make
``ProgressBar`` draw one bar per epoch and cost a call per step.

The upstream API is experimental, so everything that touches it lives here: the
estimators' base class inherits the mixin and decorates ``_fit`` with
:func:`with_sklearn_callbacks`, and the training loop sees one more sklnn callback
(:class:`_EpochTasks`) that turns its epoch hooks into scikit-learn tasks. With an
older scikit-learn, ``set_callbacks`` raises and nothing else changes.
"""

from __future__ import annotations

import functools

import sklearn

from sklnn._sklearn_private import callback_management_context
from sklnn.engine.solvers import is_stochastic

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9
    CallbackSupportMixin = None

AVAILABLE = CallbackSupportMixin is not None

#: the estimator attribute that carries the running fit's epoch adapter to the trainer
_TASK = "_sklearn_epoch_tasks"


class _Unsupported:
    """``set_callbacks`` needs scikit-learn 1.9 or later (``sklearn.callback``)."""

    def set_callbacks(self, *callbacks):
        """Raise: scikit-learn's callback API needs scikit-learn 1.9 or later."""
        raise ImportError(
            "set_callbacks uses scikit-learn's callback API (sklearn.callback), which needs "
            f"scikit-learn >= 1.9; this is scikit-learn {sklearn.__version__}. Upgrade "
            "scikit-learn, or pass sklnn's own callbacks with the `callbacks` parameter "
            "(sklnn.callbacks)."
        )


if AVAILABLE:
    class SklearnCallbacks(CallbackSupportMixin):
        """``set_callbacks(*callbacks)``: scikit-learn's callbacks (``sklearn.callback``).

        Each fit is a task with one subtask per epoch; see
        :mod:`sklnn.estimators._sklearn_callbacks`.
        """
else:
    SklearnCallbacks = _Unsupported


def with_sklearn_callbacks(fit):
    """Decorate ``NeuralNetBase._fit``: the fit task around it, when callbacks are set.

    Without callbacks (the usual case, and always before scikit-learn 1.9) the fit runs
    untouched.
    """

    @functools.wraps(fit)
    def wrapper(estimator, X, y, sample_weight=None, *, incremental=False, **kwargs):
        if not AVAILABLE or not getattr(estimator, "_skl_callbacks", None):
            return fit(estimator, X, y, sample_weight, incremental=incremental, **kwargs)
        n_processes = getattr(estimator, "n_processes", None)
        if n_processes is not None and n_processes > 1:
            raise ValueError(
                f"scikit-learn's callbacks (set_callbacks) follow a fit in this process, but "
                f"with n_processes={n_processes} the epochs run in worker processes. Use "
                "n_processes=None, or sklnn's own callbacks (the `callbacks` parameter)."
            )
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        stochastic = is_stochastic(estimator._solver())
        epochs = (1 if incremental else estimator.max_iter) if stochastic else 0
        if not isinstance(epochs, int):  # max_iter="auto": known once the fit has the data
            epochs = None
        # teardown runs even when the fit raises; nested inside scikit-learn's own
        # _fit_context it is a no-op there (the context is gone once torn down here)
        with callback_management_context(estimator):
            context = estimator._init_callback_context(max_subtasks=epochs)
            context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
            setattr(estimator, _TASK, _EpochTasks(estimator, context, X, y, metadata))
            try:
                fit(estimator, X, y, sample_weight, incremental=incremental, **kwargs)
            finally:
                vars(estimator).pop(_TASK, None)
            context.call_on_fit_task_end(estimator=estimator, X=X, y=y, metadata=metadata,
                                         reconstruction_attributes={})
        return estimator

    return wrapper


def epoch_tasks(estimator) -> list:
    """The trainer callback for the running fit's epoch tasks: ``[adapter]`` or ``[]``."""
    adapter = getattr(estimator, _TASK, None)
    return [] if adapter is None else [adapter]


class _EpochTasks:
    """An sklnn callback that makes each epoch a scikit-learn task under the fit task."""

    def __init__(self, estimator, context, X, y, metadata):
        self.estimator = estimator  # the user's estimator: callbacks were set up with it
        self.context = context
        self.X, self.y, self.metadata = X, y, metadata
        self.epoch_ = None

    def wants_batches(self):
        return False

    def on_epoch_begin(self, trainer, **kwargs):
        self.epoch_ = self.context.subcontext(task_name="epoch")
        self.epoch_.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y,
                                           metadata=self.metadata)

    def on_epoch_end(self, trainer, **kwargs):
        epoch, self.epoch_ = self.epoch_, None

        def fitted():  # only built when a callback asks for fitted_estimator
            dtype = next(trainer.module.parameters()).dtype
            return {**vars(trainer.estimator), "module_": trainer.module,
                    "device_": trainer.device, "_compute_dtype": dtype}

        trainer.module.eval()
        try:
            return epoch.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
                reconstruction_attributes=fitted)
        finally:
            trainer.module.train()

    def on_train_end(self, trainer, **kwargs):
        # an epoch that diverged or was interrupted began but never ended: close it empty
        if self.epoch_ is not None:
            self.epoch_.call_on_fit_task_end(estimator=self.estimator)
            self.epoch_ = None
