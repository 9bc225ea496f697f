"""Every estimator parameter and fitted attribute declared once.

A :class:`Param` carries what scikit-learn spreads over ``__init__``, the
``_parameter_constraints`` dict and the numpydoc "Parameters" section. An
estimator lists the parameters it takes (``_declared_params``) and writes its
``__init__`` with the same names, order and defaults (a test checks the two
agree); :func:`declare` turns the list into the ``_parameter_constraints`` that
``_fit_context`` validates and the "Parameters" section of the docstring, and
fills the "Attributes" section from :data:`ATTRIBUTES`. Shared parameters
therefore have one default, one constraint and one description everywhere; an
estimator that needs another default says so with :meth:`Param.replace` next to
its declaration.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import torch

from sklnn._sklearn_private import Interval, Options, StrOptions
from sklnn.engine.schedules import SCHEDULES
from sklnn.engine.solvers import SOLVERS, check_solver
from sklnn.validation import check_layer_sizes

#: Where an estimator's docstring receives its generated "Parameters" entries.
PARAMETERS_MARKER = "<<parameters>>"
#: The default of a parameter without one (``inspect``'s marker for "no default").
REQUIRED = inspect.Parameter.empty


@dataclasses.dataclass(frozen=True)
class Param:
    """One constructor parameter.

    ``constraints`` are scikit-learn's (checked by ``_fit_context``), ``check``
    an optional finer check run after them; ``kind`` is the numpydoc type line
    before ``default=``; ``doc`` the description (may be empty); ``positional``
    marks the few parameters that scikit-learn's own estimators accept
    positionally.
    """

    name: str
    default: object
    constraints: tuple
    kind: str
    doc: str = ""
    positional: bool = False
    #: element-level check that scikit-learn's constraints cannot express; raises ValueError
    check: Callable[[str, object], None] | None = None

    def replace(self, **changes) -> Param:
        return dataclasses.replace(self, **changes)

    def docstring(self) -> str:
        default = "" if self.default is REQUIRED else f", default={_default_text(self.default)}"
        lines = [f"    {self.name} : {self.kind}{default}"]
        if self.doc:
            lines.append(textwrap.indent(textwrap.dedent(self.doc).strip("\n"), " " * 8))
        return "\n".join(lines)


def _default_text(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def check_sizes(min_layers: int = 0, max_layers: int | None = None):
    """A ``Param.check``: an int > 0 or a sequence of ``min_layers`` to ``max_layers`` of them."""

    def check(name, value):
        sizes = check_layer_sizes(name, value)
        if len(sizes) < min_layers or (max_layers is not None and len(sizes) > max_layers):
            most = "" if max_layers is None else f" and at most {max_layers}"
            raise ValueError(f"{name} must hold at least {min_layers}{most} values; got "
                             f"{value!r}.")

    return check


SIZES = ("array-like", Interval(Integral, 1, None, closed="left"))


BOOL = ("boolean",)
FRACTION = (Interval(Real, 0.0, 1.0, closed="left"),)

# ------------------------------------------------------------------ engine parameters
# In scikit-learn's MLPClassifier order, so the MLPs' signatures read like scikit-learn's.
ENGINE_PARAMS: tuple[Param, ...] = (
    Param("solver", "adam", (StrOptions(set(SOLVERS)), type), "{" + ", ".join(
        f'"{s}"' for s in SOLVERS) + "} or torch.optim.Optimizer class", """
        "adam", "sgd" and "lbfgs" as in scikit-learn; "adamw" applies ``alpha``
        as decoupled weight decay instead of an L2 term in the loss. A
        ``torch.optim.Optimizer`` class (e.g. ``torch.optim.RMSprop``) is built
        with ``lr=learning_rate_init`` and its own defaults; ``alpha`` then
        stays the L2 term.""", check=check_solver),
    Param("alpha", 0.0001, (Interval(Real, 0.0, None, closed="left"),), "float", """
        L2 penalty ``0.5 * alpha * ||W||^2`` on weight matrices and kernels (not
        biases or norms), divided by the batch size (or the batch's weight sum)
        as in scikit-learn; with ``solver="adamw"`` it is AdamW's decoupled
        weight decay instead."""),
    Param("batch_size", "auto", (StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")),
          'int or "auto"', '"auto" means ``min(200, n_samples)``.'),
    Param("learning_rate", "constant", (StrOptions(set(SCHEDULES)),),
          "{" + ", ".join(f'"{s}"' for s in SCHEDULES) + "}", """
        Learning-rate schedule. "constant", "invscaling" and "adaptive" are
        scikit-learn's and apply to ``solver="sgd"`` only (the other solvers
        keep ``learning_rate_init``). "cosine" (annealing to zero) and "step"
        (divide by 10 at 50% and 75% of the epochs) span the ``max_iter``
        epochs of one ``fit`` for every stochastic solver; each
        ``partial_fit`` call is one epoch at ``learning_rate_init``. With
        these two, reaching ``max_iter`` is the plan and raises no
        ConvergenceWarning, and the training-loss ``tol`` rule does not end
        the fit early (early stopping on a validation score still does);
        "lbfgs" cannot follow them and raises."""),
    Param("learning_rate_init", 0.001, (Interval(Real, 0.0, None, closed="neither"),), "float",
          "Initial step size of the stochastic solvers."),
    Param("power_t", 0.5, (Interval(Real, None, None, closed="neither"),), "float",
          'Exponent of the "invscaling" schedule.'),
    Param("max_iter", 200, (Interval(Integral, 1, None, closed="left"),), "int", """
        Epochs for the stochastic solvers (each sample seen ``max_iter`` times),
        iterations for "lbfgs"."""),
    Param("shuffle", True, BOOL, "bool", "Shuffle the samples every epoch."),
    Param("random_state", None, ("random_state",), "int, RandomState instance or None", """
        Seeds initialisation, shuffling, the validation split, dropout and
        augmentation. Equal seeds give identical models on the CPU."""),
    Param("tol", 1e-4, (Interval(Real, 0.0, None, closed="left"),), "float", """
        Minimum improvement of the training loss (or of the validation score
        with early stopping) that resets the ``n_iter_no_change`` count."""),
    Param("verbose", False, ("verbose",), "bool",
          "Print the training loss (and validation score) after each epoch."),
    Param("warm_start", False, BOOL, "bool", """
        Continue from the previous fit's weights; each ``fit`` call then runs
        up to ``max_iter`` more epochs."""),
    Param("momentum", 0.9, (Interval(Real, 0.0, 1.0, closed="both"),), "float",
          'Momentum of ``solver="sgd"``.'),
    Param("nesterovs_momentum", True, BOOL, "bool",
          'Nesterov momentum for ``solver="sgd"`` with ``momentum > 0``.'),
    Param("early_stopping", False, BOOL, "bool", """
        Hold out ``validation_fraction`` of the data (or use ``validation_data``
        given to ``fit``), stop when its score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the best weights."""),
    Param("validation_fraction", 0.1, (Interval(Real, 0.0, 1.0, closed="neither"),), "float",
          "Share of the training data held out for early stopping."),
    Param("beta_1", 0.9, (Interval(Real, 0.0, 1.0, closed="left"),), "float",
          "Adam's decay of the first-moment estimates."),
    Param("beta_2", 0.999, (Interval(Real, 0.0, 1.0, closed="left"),), "float",
          "Adam's decay of the second-moment estimates."),
    Param("epsilon", 1e-8, (Interval(Real, 0.0, None, closed="neither"),), "float",
          "Adam's numerical-stability constant."),
    Param("n_iter_no_change", 10, (Interval(Integral, 1, None, closed="left"),
                                   Options(Real, {np.inf})), "int or np.inf", """
        Epochs without a ``tol`` improvement before stopping; ``np.inf`` never
        stops on this rule. Without early stopping it does not stop the planned
        schedules ("cosine", "step") before their end."""),
    Param("max_fun", 15000, (Interval(Integral, 1, None, closed="left"),), "int",
          'Maximum loss evaluations for "lbfgs".'),
    Param("device", "auto", (str, torch.device), "str or torch.device", """
        "auto" picks CUDA, else MPS, else the CPU; or "cpu", "cuda", "cuda:1",
        "mps". The device used is ``device_``."""),
    Param("callbacks", None, (list, tuple, None), "list of Callback or None", """
        Objects with any of the hooks of :class:`sklnn.callbacks.Callback`, or
        ``(name, callback)`` pairs, whose parameters are then the estimator's
        ``callbacks__NAME__PARAM`` (``get_params``, ``set_params``, a grid
        search); see :mod:`sklnn.callbacks`. Checked when ``fit`` starts."""),
    Param("compile", False, BOOL, "bool", """
        Train a ``torch.compile``-d network. The first batch's gradients are
        checked against eager mode; on a mismatch training falls back to eager."""),
    Param("precision", "auto", (StrOptions({"auto", "float32", "float64", "bfloat16",
                                            "float16"}),),
          '{"auto", "float32", "float64", "bfloat16", "float16"}', """
        "auto" computes in the input's float type on the CPU (as scikit-learn)
        and in float32 on accelerators. "bfloat16"/"float16" autocast the
        forward pass (float16 needs CUDA)."""),
    # DataLoader settings, for X given as a torch Dataset or a numpy memmap (sklnn.data)
    Param("num_workers", 0, (Interval(Integral, 0, None, closed="left"),), "int", """
        Processes that read and validate batches of a Dataset or memmap ``X``
        in parallel (``torch.utils.data.DataLoader``'s ``num_workers``); 0
        reads them in the fitting process. Results do not depend on it. Inside
        a daemonic process (a joblib or Dask worker) it falls back to 0 with a
        warning. Must stay 0 for in-memory X."""),
    Param("persistent_workers", False, BOOL, "bool", """
        Keep the loader's worker processes between epochs (needs
        ``num_workers >= 1``)."""),
    Param("prefetch_factor", None, (Interval(Integral, 1, None, closed="left"), None),
          "int or None", """
        Batches each loader worker reads ahead (needs ``num_workers >= 1``);
        None keeps PyTorch's default (2)."""),
    Param("pin_memory", "auto", (StrOptions({"auto"}), "boolean"), '"auto" or bool', """
        Copy streamed batches through pinned host memory: "auto" does so for
        a CUDA device only; True on another device raises."""),
    Param("n_processes", None, (Interval(Integral, 1, None, closed="left"), None),
          "int or None", """
        Train data-parallel in this many worker processes that ``fit`` starts
        (one per GPU on CUDA, gloo on the CPU) and returns from with rank 0's
        fitted model; works from scripts without a ``__main__`` guard. Each
        epoch's permutation is split across the processes and their gradients
        are summed, so ``batch_size`` is the global batch. None (or 1) trains
        in this process; inside a ``torchrun`` process group leave it None (the
        group's processes already train data-parallel). See the scaling guide."""),
)
ENGINE = {p.name: p for p in ENGINE_PARAMS}

CLASS_WEIGHT = Param("class_weight", None, (dict, StrOptions({"balanced"}), None),
                     'dict, "balanced" or None',
                     "Weights of the classes in the loss, as in scikit-learn's linear models.")


def auto_max_iter(budget) -> Param:
    """The ``max_iter`` entry of an estimator whose default is the engine's training budget
    (:class:`sklnn.engine.budget.EpochBudget`), with the rule written into its docs."""
    return ENGINE["max_iter"].replace(
        default="auto", kind='int or "auto"',
        constraints=(StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")),
        doc=textwrap.fill(
            'Epochs for the stochastic solvers (each sample seen ``max_iter`` times), '
            'iterations for "lbfgs". "auto" (the default) fixes the samples seen rather than '
            f"the passes: {budget.describe()}, counting about three forward passes' FLOPs per "
            "sample per epoch. Small training sets get more epochs, large ones fewer; with "
            "the default cosine schedule every one of them is run. A number given here "
            "always wins.", 72))


def engine_params(**defaults) -> tuple[Param, ...]:
    """The engine parameters, with the given defaults replaced for one estimator."""
    unknown = set(defaults) - set(ENGINE)
    if unknown:
        raise TypeError(f"not engine parameters: {sorted(unknown)}")
    return tuple(p.replace(default=defaults[p.name]) if p.name in defaults else p
                 for p in ENGINE_PARAMS)


# ------------------------------------------------------------------ fitted attributes
ATTRIBUTES = {
    "classes_": ("ndarray of shape (n_classes,)", "Class labels, sorted."),
    "input_shape_": ("tuple of int", "``(C, H, W)`` of the images the network sees."),
    "sequence_shape_": ("tuple of int",
                        "``(T, F)``: steps and features per sequence seen in ``fit``."),
    "horizon_": ("int", "Values forecast per window (columns of ``y``)."),
    "uses_network_": ("bool", "Whether ``predict`` uses the network. With ``season_length`` "
                      "(point forecasts, not warm-started), a network trained on all but the "
                      "last tenth of the windows is compared with seasonal naive there, by "
                      "mean absolute error; if it is not better, ``predict`` forecasts the "
                      "seasonal base (seasonal naive). True otherwise."),
    "n_features_in_": ("int", "Length of a validated input row: the number of features, "
                       "``C * H * W`` for images, ``T * F`` for sequences."),
    "feature_names_in_": ("ndarray of shape (`n_features_in_`,)",
                          "Defined when X has string column names."),
    "loss_": ("float", "Training loss (including the L2 term) of the last epoch."),
    "best_loss_": ("float or None", "Smallest training loss; None with early stopping."),
    "loss_curve_": ("list of float", 'Training loss per epoch (per iteration for "lbfgs").'),
    "validation_scores_": ("list of float or None",
                           "Validation score per epoch with early stopping."),
    "best_validation_score_": ("float or None", "Best validation score with early stopping."),
    "t_": ("int", "Training samples seen."),
    "coefs_": ("list of ndarray", "Weight matrices, ``coefs_[i]`` of shape "
               "(n_units_i, n_units_i+1)."),
    "intercepts_": ("list of ndarray", "Bias vectors, ``intercepts_[i]`` of shape "
                    "(n_units_i+1,)."),
    "n_iter_": ("int", "Epochs run (iterations for \"lbfgs\")."),
    "n_layers_": ("int", "Weighted layers plus the input layer, as scikit-learn counts "
                  "layers (convolutions wider than 1x1 and dense layers for images, "
                  "``num_layers + 2`` for recurrent networks)."),
    "n_outputs_": ("int", "Outputs of the network's head."),
    "out_activation_": ("str", "Output activation the loss implies."),
    "module_": ("torch.nn.Module", "The trained network; it returns raw outputs (logits)."),
    "device_": ("torch.device", "Where the network lives."),
    "n_threads_": ("int", "Intra-op threads the fit trained with; at most its worker's share "
                   "of the cores in a parallel search."),
    "history_": ("History (a list of dict)",
                 "Per epoch: epoch, train_loss, valid_loss, valid_score, lr, duration."),
}

#: the attributes every estimator has after fit, in documentation order
COMMON = ("n_features_in_", "feature_names_in_", "loss_", "best_loss_", "loss_curve_",
          "validation_scores_", "best_validation_score_", "t_", "n_iter_", "n_layers_",
          "n_outputs_", "out_activation_", "n_threads_", "module_", "device_", "history_")

_ATTRIBUTES_MARKER = re.compile(r"^ *<<attributes:([^>]*)>>$", re.MULTILINE)


def _fill_attributes(doc: str) -> str:
    """Replace the attributes marker with the named entries (``COMMON`` expands)."""

    def entries(match) -> str:
        names = []
        for name in match.group(1).split():
            names.extend(COMMON if name == "COMMON" else (name,))
        return "\n".join(f"    {n} : {ATTRIBUTES[n][0]}\n        {ATTRIBUTES[n][1]}"
                         for n in names)

    return _ATTRIBUTES_MARKER.sub(entries, doc)


# ------------------------------------------------------------------ a class's declarations
def declare(cls) -> None:
    """``cls._parameter_constraints`` and the docstring's parameter and attribute entries
    from ``cls._declared_params`` (run for every estimator class as it is defined)."""
    params: Sequence[Param] = cls.__dict__["_declared_params"]
    cls._parameter_constraints = {p.name: list(p.constraints) for p in params}
    if cls.__doc__ and PARAMETERS_MARKER in cls.__doc__:
        entries = "\n".join(p.docstring() for p in params)
        cls.__doc__ = _fill_attributes(cls.__doc__.replace("    " + PARAMETERS_MARKER, entries))
