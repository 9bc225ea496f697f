"""What the declared parameters mean to the engine, and how a declaration becomes an API.

A concrete estimator declares its parameters once, as ``_declared_params`` (a
sequence of :class:`~sklnn.estimators._params.Param`). :class:`EngineSettings`
turns the declaration into ``__init__``, ``_parameter_constraints`` (validated
when ``fit`` starts by scikit-learn's ``_fit_context``) and the docstring's
parameter and attribute entries, and reads the parameters the engine needs:
optimiser settings, schedules, deprecated names.
"""

from __future__ import annotations

import torch

from sklnn.callbacks import LRScheduler
from sklnn.engine.solvers import LEARNING_RATES, LearningRateSchedule
from sklnn.engine.trainer import Trainer
from sklnn.estimators._attributes import fill_attributes
from sklnn.estimators._params import PARAMETERS_MARKER, parameters_doc


class EngineSettings:
    """Parameter declaration and the engine settings derived from the parameters."""

    #: the loop that trains stochastic solvers; a subclass may substitute its own
    trainer_class = Trainer

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = cls.__dict__.get("_declared_params")
        if params is None:
            return
        cls._parameter_constraints = {p.name: list(p.constraints) for p in params}
        if cls.__doc__ and PARAMETERS_MARKER in cls.__doc__:
            doc = cls.__doc__.replace("    " + PARAMETERS_MARKER, parameters_doc(params))
            cls.__doc__ = fill_attributes(doc)

    def _check_params(self) -> None:
        """Checks beyond each parameter's scikit-learn constraint: the declared
        element-level checks, then (in subclasses) those involving several parameters."""
        for param in self._declared_params:
            if param.check is not None:
                param.check(param.name, getattr(self, param.name))

    @classmethod
    def _parameter_defaults(cls) -> dict:
        return {p.name: p.default for p in cls._declared_params}

    def _solver_kwargs(self) -> dict:
        return dict(
            learning_rate_init=self.learning_rate_init,
            momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            weight_decay=self.alpha,
        )

    def _schedule(self) -> LearningRateSchedule:
        """scikit-learn's schedules, which act on "sgd" only; "cosine" and "step" are
        callbacks (``_builtin_callbacks``)."""
        kind = self.learning_rate
        if self.solver != "sgd" or kind not in LEARNING_RATES:
            kind = "constant"
        return LearningRateSchedule(kind, self.learning_rate_init, self.power_t)

    def _builtin_callbacks(self) -> list:
        """Callbacks the estimator's own parameters imply (the "cosine" and "step"
        schedules over ``max_iter`` epochs); they run before the user's ``callbacks``."""
        kind = self.learning_rate
        if kind == "cosine":
            return [LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self.max_iter)]
        if kind == "step":
            milestones = sorted({max(1, self.max_iter // 2), max(1, 3 * self.max_iter // 4)})
            return [LRScheduler(torch.optim.lr_scheduler.MultiStepLR, milestones=milestones,
                                gamma=0.1)]
        return []
