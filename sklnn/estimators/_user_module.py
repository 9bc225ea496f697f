"""A user's own PyTorch module behind the engine: what NeuralNetClassifier and
NeuralNetRegressor share.

The module receives the samples of X as they are (rows, images, sequences; integer
arrays stay integers, for embeddings) and returns one row of outputs per sample. A
probe with two all-zero samples, run when the module is built, initialises lazy layers,
checks the output's shape against the targets and tells logits from probabilities, so
that a module ending with a softmax still trains correctly.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import is_classifier
from sklearn.utils.validation import column_or_1d, validate_data
from torch import nn

from sklnn.engine.objectives import CriterionObjective
from sklnn.estimators._base import NeuralNetBase
from sklnn.estimators._data import StreamedX, _validated_batch
from sklnn.estimators._declarations import ENGINE, REQUIRED, Param, engine_params
from sklnn.modules.keyword_inputs import KeywordInputs
from sklnn.validation import FLOAT_DTYPES, to_host

#: the keyword arguments routed to the module, the loss and the optimiser
PREFIXES = ("module__", "criterion__", "optimizer__")
#: constructor parameters a module class may leave to the data
FILLED_IN = ("n_features_in", "n_outputs")


def _check_network(name, value, *, optional=False):
    if optional and value is None:
        return
    if isinstance(value, nn.Module) or (isinstance(value, type) and issubclass(value, nn.Module)):
        return
    raise ValueError(f"{name} must be a torch.nn.Module class or instance"
                     f"{' or None' if optional else ''}; got {value!r}.")


MODULE = Param("module", REQUIRED, (type, nn.Module), "class or instance of torch.nn.Module", """
    The network: it receives a batch of X's samples as they are and returns
    one row of outputs per sample. A class is built at the start of every fit
    with the ``module__*`` parameters (``module__hidden=64``); constructor
    parameters named ``n_features_in`` (``X.shape[1]``) and ``n_outputs``
    (classes, labels or targets; 1 for a binary classifier) that are not given
    are filled in from the data. An instance is copied at the start of every
    fit and trained from its weights as given. Lazy layers
    (``torch.nn.LazyLinear``) are initialised at the start of the fit.
    Floating-point X reaches the module in the computing precision; integer
    X as int64 when the module has an ``nn.Embedding`` (token indices), else
    as floats. A dict of arrays gives a module with several inputs each by
    name: ``forward(numbers=..., tokens=...)``.""",
               positional=True, check=_check_network)
CRITERION = Param("criterion", None, (type, nn.Module, None),
                  "class or instance of a torch loss, or None", """
    The loss, called as ``criterion(outputs, targets)``: a class (built with
    the ``criterion__*`` parameters) or an instance. None: cross-entropy on
    logits for classes (``torch.nn.CrossEntropyLoss``; ``NLLLoss`` on the log
    when the module returns probabilities or log-probabilities), binary
    cross-entropy for a single binary output and for multilabel targets
    (``BCEWithLogitsLoss``, or ``BCELoss`` after a final ``nn.Sigmoid``), and
    ``torch.nn.MSELoss`` for regression. Targets arrive as class indices when
    the module has one output per class, else as 0/1 (classifiers) or values
    (regressors) of shape ``(n_samples, n_outputs)``.""",
                  check=lambda name, value: _check_network(name, value, optional=True))
OPTIMIZER = ENGINE["solver"].replace(name="optimizer", doc="""
    The optimiser: "adam", "adamw", "sgd" and "lbfgs" as in sklnn's other
    estimators (their settings come from the parameters below), or a
    ``torch.optim.Optimizer`` class built with ``lr=learning_rate_init``.
    ``optimizer__*`` parameters are further arguments of the optimiser
    (``optimizer__amsgrad=True``), and ``optimizer__param_groups`` a list of
    ``(pattern, options)`` pairs giving the parameters whose names match the
    glob pattern their own settings:
    ``[("body.*", {"lr": 1e-4, "weight_decay": 0.0})]``.""")
ALPHA = ENGINE["alpha"].replace(default=0.0)


def user_module_params(*extra: Param) -> tuple[Param, ...]:
    """The parameters of an estimator around a user's module: the module, the loss, the
    optimiser, then the engine's (no L2 penalty by default), then ``extra``."""
    engine = tuple(ALPHA if p.name == "alpha" else p
                   for p in engine_params() if p.name != "solver")
    return (MODULE, CRITERION, OPTIMIZER, *engine, *extra)


def _embeds(module: nn.Module) -> bool:
    """Whether the module looks up embeddings (so integer inputs stay integers)."""
    return any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in module.modules())


def _last_layer(module: nn.Module) -> nn.Module:
    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    return leaves[-1] if leaves else module


def _outputs_of(probe: torch.Tensor, module: nn.Module, task: str) -> str:
    """What a classifier module returns: logits, probabilities or log-probabilities."""
    if task == "labels":
        return "probabilities" if isinstance(_last_layer(module), nn.Sigmoid) else "logits"
    values = probe.detach().double()
    ones = torch.ones(values.shape[0], dtype=values.dtype)
    if (values >= -1e-6).all() and torch.allclose(values.sum(dim=1), ones, atol=1e-4):
        return "probabilities"
    if (values <= 1e-6).all() and torch.allclose(values.exp().sum(dim=1), ones, atol=1e-4):
        return "log_probabilities"
    return "logits"


class UserModule:
    """A user's module, loss and optimiser behind NeuralNetBase (a mixin)."""

    _required_parameters = ["module"]
    _fit_only_attributes = NeuralNetBase._fit_only_attributes | {"_probe_output"}

    # ------------------------------------------------------------ parameters
    # The keyword arguments (module__*, criterion__*, optimizer__*) are stored as given,
    # like every parameter, and checked at fit, as scikit-learn's conventions ask.
    def _prefixed(self, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in self._kwargs.items() if k.startswith(prefix)}

    def get_params(self, deep=True):
        """Parameters, including every ``module__*``, ``criterion__*`` and ``optimizer__*``."""
        return {**super().get_params(deep=deep), **self._kwargs}

    def set_params(self, **params):
        """Set parameters; ``module__*``, ``criterion__*`` and ``optimizer__*`` may be new."""
        named = set(self._get_param_names())
        extra = {k: params.pop(k) for k in list(params)
                 if k not in named and not k.startswith("callbacks__")}
        self._kwargs = {**self._kwargs, **extra}
        return super().set_params(**params)

    def _check_params(self):
        super()._check_params()
        unknown = [key for key in self._kwargs if not key.startswith(PREFIXES) or key in PREFIXES]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameters {unknown}; besides its "
                "parameters it takes module__*, criterion__* and optimizer__* (e.g. "
                "module__hidden=64).")
        for name, built in (("module", isinstance(self.module, nn.Module)),
                            ("criterion", isinstance(self.criterion, nn.Module))):
            given = self._prefixed(f"{name}__")
            if given and (built or getattr(self, name) is None):
                what = "an instance, already built" if built else "None"
                raise ValueError(
                    f"{name}__* parameters {sorted(given)} are arguments of the {name} "
                    f"class, but {name} is {what}; pass the class (e.g. {name}=MyClass).")

    def _solver(self):
        return self.optimizer

    def _optimizer_options(self) -> dict:
        options = self._prefixed("optimizer__")
        options.pop("param_groups", None)
        return options

    def _param_groups(self):
        return self._kwargs.get("optimizer__param_groups")

    # ----------------------------------------------------------------- input
    def _validate_X(self, X, *, reset):
        X, integer = self._host_input(X, reset)
        X = validate_data(self, X, reset=reset, accept_sparse=["csr", "csc"], allow_nd=True,
                          dtype=np.int64 if integer else FLOAT_DTYPES)
        return self._checked_sample_shape(X, reset)

    def _validate_X_y(self, X, y, *, reset, y_numeric):
        X, integer = self._host_input(X, reset)
        X, y = validate_data(self, X, to_host(y), reset=reset, accept_sparse=["csr", "csc"],
                             allow_nd=True, multi_output=True, y_numeric=y_numeric,
                             dtype=np.int64 if integer else FLOAT_DTYPES)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return self._checked_sample_shape(X, reset), y

    def _host_input(self, X, reset):
        """X on the host, and whether it is read as integers (token indices): integer
        arrays at fit, and whatever follows a fit on integers."""
        X = to_host(X)
        if isinstance(X, dict) and not sp.issparse(X):
            X = self._packed(X, reset)
        elif not reset and vars(self).get("_keyword_inputs"):
            raise ValueError(
                f"{type(self).__name__} was fitted on a dict of inputs "
                f"{[name for name, _, _ in self._keyword_inputs]}; pass the same dict.")
        elif reset:
            self._keyword_inputs = None
        integer = isinstance(X, np.ndarray) and X.dtype.kind in "iu"
        if reset:
            self._integer_input = integer
        elif self._integer_input and not integer:
            values = np.asarray(X, dtype=np.float64)
            if not np.array_equal(values, np.round(values)):
                raise ValueError(
                    f"{type(self).__name__} was fitted on integer inputs (e.g. token "
                    "indices); X has values that are not whole numbers.")
            X = values.astype(np.int64)
        return X, self._integer_input

    def _packed(self, inputs: dict, reset: bool) -> np.ndarray:
        """A dict of arrays (the module's keyword inputs) as one array of rows: each input
        flattened, side by side; :class:`~sklnn.modules.keyword_inputs.KeywordInputs`
        hands them back to ``forward`` by name."""
        arrays = {}
        for name, value in inputs.items():
            array = np.asarray(to_host(value))
            if not (isinstance(name, str) and name.isidentifier()) or array.ndim == 0 or (
                    array.dtype.kind not in "biuf"):
                raise ValueError(
                    f"X is a dict of inputs, each a numeric array with one row per sample "
                    f"under the name of a forward argument; {name!r} holds a "
                    f"{array.dtype} array of shape {array.shape}.")
            arrays[name] = array
        if len({len(a) for a in arrays.values()}) != 1:
            raise ValueError("X's inputs have different numbers of rows: "
                             f"{ {k: len(a) for k, a in arrays.items()} }.")
        layout = [(k, tuple(a.shape[1:]), a.dtype.kind in "biu") for k, a in arrays.items()]
        if reset:
            self._keyword_inputs = layout
        elif layout != vars(self).get("_keyword_inputs"):
            raise ValueError(f"X holds the inputs {layout} (name, sample shape, integer); "
                             f"{type(self).__name__} was fitted on "
                             f"{vars(self).get('_keyword_inputs')}.")
        wide = any(a.dtype == np.float64 or (a.dtype.kind in "iu" and a.size and np.abs(
            a).max() >= 2**24) for a in arrays.values())  # exact in float32 up to 2**24
        dtype = np.float64 if wide else np.float32
        n = len(next(iter(arrays.values())))
        return np.concatenate([a.reshape(n, -1).astype(dtype) for a in arrays.values()], axis=1)

    def _checked_sample_shape(self, X, reset):
        shape = tuple(int(s) for s in X.shape[1:])
        if reset:
            self.input_shape_ = shape
        elif shape != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {shape}, but {type(self).__name__} was fitted on "
                f"samples of shape {self.input_shape_}.")
        return X

    def _input_shape(self):
        return self.input_shape_

    def _export_input_shape(self):
        return self.input_shape_

    def _export_integer_input(self):
        return bool(self._integer_input)

    def _largest_activation(self):
        return max(super()._largest_activation(), int(np.prod(self.input_shape_)))

    def _uses_batch_norm(self):
        module = self.module if isinstance(self.module, nn.Module) else vars(self).get("module_")
        return module is not None and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())

    # --------------------------------------------------------------- network
    def _build_module(self, n_features, n_outputs):
        if isinstance(self.module, nn.Module):
            module = copy.deepcopy(self.module)
        else:
            kwargs = self._prefixed("module__")
            accepted = inspect.signature(self.module).parameters
            for name, value in zip(FILLED_IN, (n_features, n_outputs)):
                if name in accepted and name not in kwargs:
                    kwargs[name] = value
            try:
                module = self.module(**kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.module.__name__}(**{kwargs}) failed: {exc}. The "
                                "module__* parameters are its constructor's arguments.") from exc
        if vars(self).get("_keyword_inputs"):
            KeywordInputs(self._keyword_inputs).attach(module)
        self._probe_output = self._probe(module)
        return module

    def _probe(self, module: nn.Module) -> torch.Tensor:
        """The module's outputs for two all-zero samples (this also initialises lazy
        layers), or an error that says what the module received."""
        name = type(module).__name__
        integer = self._integer_input and _embeds(module)
        dtype = torch.long if integer else torch.get_default_dtype()
        sample = torch.zeros((2, *self.input_shape_), dtype=dtype)
        training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(sample)
        except (RuntimeError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ValueError(
                f"{name} failed on a batch of {dtype} samples of shape {self.input_shape_}, "
                f"the shape of X's samples (the module receives X's rows as they are): "
                f"{type(exc).__name__}: {exc}") from exc
        finally:
            module.train(training)
        if not isinstance(out, torch.Tensor) or out.ndim not in (1, 2) or len(out) != 2:
            got = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
                   else f"a {type(out).__name__}")
            raise ValueError(
                f"{name} must return a tensor of shape (n_samples, n_outputs), one row per "
                f"sample; for a batch of 2 samples it returned {got}.")
        return out

    def _fit_output_layout(self, module, X, y, y_encoded, n_outputs):
        if self._integer_input and not _embeds(module):
            # integers reach a module without an embedding as floats, as in scikit-learn
            self._integer_input = False
            if isinstance(X, StreamedX):
                X.transform = _validated_batch(self._view())
            else:
                X = X.astype(np.float64)
        out = self._probe_output
        width = 1 if out.ndim == 1 else int(out.shape[1])
        task = self._task(width, n_outputs)
        outputs = _outputs_of(out, module, task) if task != "values" else "values"
        self._output_kind = (task, outputs)
        self.criterion_ = self._criterion()
        return X, self._encode_targets(y), width

    def _task(self, width: int, n_targets: int) -> str:
        """"classes", "labels" or "values", from the targets and the module's outputs."""
        if not is_classifier(self):
            if width != n_targets:
                raise self._width_error(width, f"{n_targets} target(s)")
            return "values"
        n_classes = len(self.classes_)
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            if width != n_classes:
                raise self._width_error(width, f"{n_classes} labels (one output each)")
            return "labels"
        if n_classes <= 2 and width == 1:
            return "labels"
        if width != max(n_classes, 2):
            need = "1 or 2" if n_classes <= 2 else str(n_classes)
            raise self._width_error(width, f"{n_classes} classes ({need} outputs)")
        return "classes"

    def _width_error(self, width, needed) -> ValueError:
        name = self.module.__name__ if isinstance(self.module, type) else type(self.module).__name__
        return ValueError(
            f"{name} returns {width} output(s) per sample, but the targets have {needed}. "
            "Build the module with that many outputs (a constructor parameter named "
            "n_outputs is filled in when module__n_outputs is not given).")

    def _criterion(self):
        task, outputs = self._output_kind
        criterion = self.criterion
        if criterion is None:
            if task == "values":
                return nn.MSELoss()
            if task == "labels":
                return nn.BCELoss() if outputs == "probabilities" else nn.BCEWithLogitsLoss()
            return nn.CrossEntropyLoss() if outputs == "logits" else nn.NLLLoss()
        if isinstance(criterion, type):
            criterion = criterion(**self._prefixed("criterion__"))
        wrong = {("classes", nn.CrossEntropyLoss), ("labels", nn.BCEWithLogitsLoss)}
        if outputs == "probabilities" and any(task == t and isinstance(criterion, c)
                                              for t, c in wrong):
            raise ValueError(
                f"{type(criterion).__name__} expects logits, but the module returns "
                "probabilities (it ends with a softmax or sigmoid): remove that last layer, "
                "or leave criterion=None (sklnn then takes the log of the probabilities).")
        return criterion

    def _encode_targets(self, y):
        kind = vars(self).get("_output_kind")
        if kind is None or not is_classifier(self):
            return super()._encode_targets(y)
        if kind[0] == "classes":
            return np.searchsorted(self.classes_, y)
        return self._label_binarizer.transform(y).astype(np.float64)

    def _make_objective(self):
        return CriterionObjective(self.criterion_, *self._output_kind)

    def _restore_derived(self):
        self.criterion_ = self._criterion()
        self.optimizer_ = None  # the optimiser's state is not saved

    def _commit(self, module, state, optimizer, where, n_outputs, epochs_before):
        super()._commit(module, state, optimizer, where, n_outputs, epochs_before)
        self.optimizer_ = optimizer

    def _validate_targets_and_features(self, X, y, *, incremental, reset, classes):
        if reset:
            vars(self).pop("_output_kind", None)  # decided anew for the new module
        elif "_output_kind" in vars(self):
            self.criterion_ = self._criterion()  # a warm start follows set_params too
        return super()._validate_targets_and_features(
            X, y, incremental=incremental, reset=reset, classes=classes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

