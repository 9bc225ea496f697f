"""MLPClassifierGPU and MLPRegressorGPU: drop-in replacements for scikit-learn's MLPs."""

from __future__ import annotations

import numpy as np
import torch

from sklnn._sklearn_private import StrOptions
from sklnn.estimators._declarations import (
    BOOL,
    CLASS_WEIGHT,
    FRACTION,
    SIZES,
    Param,
    check_sizes,
    engine_params,
)
from sklnn.estimators._tasks import NeuralClassifier, NeuralRegressor
from sklnn.modules.activations import ACTIVATIONS
from sklnn.modules.mlp import MLP
from sklnn.validation import check_layer_sizes

ACTIVATION = Param("activation", "relu", (StrOptions(set(ACTIVATIONS)),),
                   "{" + ", ".join(f'"{a}"' for a in ACTIVATIONS) + "}",
                   "Activation of the hidden layers.", positional=True)

MLP_PARAMS = (
    Param("hidden_layer_sizes", (100,), SIZES, "array-like of shape (n_layers - 2,)",
          "The ith element is the number of units in the ith hidden layer.", positional=True,
          check=check_sizes()),
    ACTIVATION,
    *engine_params(),
    Param("dropout", 0.0, FRACTION, "float", "Dropout probability after each hidden activation."),
    Param("batch_norm", False, BOOL, "bool",
          "Batch normalisation after each hidden linear layer."),
)

REGRESSION_LOSS = Param(
    "loss", "squared_error",
    (StrOptions({"squared_error", "poisson", "absolute_error", "huber"}),),
    '{"squared_error", "poisson", "absolute_error", "huber"}', """
    "squared_error" and "poisson" are scikit-learn's half squared error and
    half Poisson deviance (log link); "huber" uses delta=1.""", positional=True)


class _MLPMixin:
    """Architecture and parameters shared by the two MLP estimators."""

    def _build_module(self, n_features, n_outputs):
        return MLP(
            n_features,
            check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes),
            n_outputs,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )

    def _draw_initial_weights(self, rng, n_features, n_outputs):
        # scikit-learn's draws in scikit-learn's order: for each layer, the (fan_in, fan_out)
        # matrix, then the biases, from U(-b, b) with b = sqrt(f / (fan_in + fan_out)), f = 2
        # for the logistic activation and 6 otherwise. An int random_state therefore starts
        # from exactly scikit-learn's weights.
        units = [n_features, *check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes),
                 n_outputs]
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights = []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append((rng.uniform(-bound, bound, (fan_in, fan_out)),
                            rng.uniform(-bound, bound, fan_out)))
        return weights

    def _init_module(self, module, generator, initial=None):
        module.double()  # hold the float64 draws exactly until the compute dtype is chosen
        linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for layer, (coef, intercept) in zip(linears, initial, strict=True):
                layer.weight.copy_(torch.from_numpy(coef.T))
                layer.bias.copy_(torch.from_numpy(intercept))

    def _n_layers(self):
        return len(check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)) + 2

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices as numpy copies, shaped (fan_in, fan_out) like scikit-learn's.

        Assigning a list of arrays of the same shapes sets the network's weights, as
        assigning scikit-learn's ``coefs_`` does; the next ``predict`` or warm-started
        ``fit`` uses them.
        """
        return [layer.weight.detach().T.cpu().numpy().copy() for layer in self._linears()]

    @coefs_.setter
    def coefs_(self, values) -> None:
        self._assign([layer.weight for layer in self._linears()], values, "coefs_", True)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors as numpy copies; assignable like ``coefs_``."""
        return [layer.bias.detach().cpu().numpy().copy() for layer in self._linears()]

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        self._assign([layer.bias for layer in self._linears()], values, "intercepts_", False)

    @staticmethod
    def _assign(targets, values, name, transpose) -> None:
        values = list(values)
        shapes = [tuple(t.T.shape if transpose else t.shape) for t in targets]
        given = [np.shape(v) for v in values]
        if given != shapes:
            raise ValueError(f"{name} must be {len(shapes)} arrays of shapes {shapes}; got "
                             f"shapes {given}.")
        arrays = [np.asarray(v, dtype=np.float64) for v in values]
        if not all(np.isfinite(a).all() for a in arrays):
            raise ValueError(f"{name} must hold finite values only.")
        with torch.no_grad():
            for target, array in zip(targets, arrays):
                tensor = torch.from_numpy(array.T if transpose else array)
                target.copy_(tensor.to(device=target.device, dtype=target.dtype))

    def _linears(self):
        if "module_" not in vars(self):
            raise AttributeError("coefs_ and intercepts_ exist after fit.")
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]


class MLPClassifierGPU(_MLPMixin, NeuralClassifier):
    """Multi-layer perceptron classifier on PyTorch, a drop-in for ``MLPClassifier``.

    Same parameters, defaults, fitted attributes and behaviour as scikit-learn's
    :class:`~sklearn.neural_network.MLPClassifier` (binary, multiclass and
    multilabel targets, ``partial_fit``, ``warm_start``, sparse input, sample
    weights), trained on the GPU when there is one.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: classes_ coefs_ intercepts_ COMMON>>

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklnn import MLPClassifierGPU
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = MLPClassifierGPU(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _declared_params = (*MLP_PARAMS, CLASS_WEIGHT)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
        alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
        power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=0.0001, verbose=False,
        warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
        validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10,
        max_fun=15000, device="auto", callbacks=None, compile=False, precision="auto",
        num_workers=0, persistent_workers=False, prefetch_factor=None, pin_memory="auto",
        n_processes=None, dropout=0.0, batch_norm=False, class_weight=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.callbacks = callbacks
        self.compile = compile
        self.precision = precision
        self.num_workers = num_workers
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.n_processes = n_processes
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.class_weight = class_weight


class MLPRegressorGPU(_MLPMixin, NeuralRegressor):
    """Multi-layer perceptron regressor on PyTorch, a drop-in for ``MLPRegressor``.

    Same parameters, defaults, fitted attributes and behaviour as scikit-learn's
    :class:`~sklearn.neural_network.MLPRegressor` (multi-output targets,
    ``partial_fit``, ``warm_start``, sparse input, sample weights), trained on
    the GPU when there is one.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: coefs_ intercepts_ COMMON>>

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklnn import MLPRegressorGPU
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> reg = MLPRegressorGPU(solver="lbfgs", random_state=0)
    >>> model = make_pipeline(StandardScaler(), reg).fit(X, y / y.std())
    >>> bool(model.score(X, y / y.std()) > 0.95)
    True
    """

    _declared_params = (REGRESSION_LOSS, *MLP_PARAMS)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
        solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
        learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True, random_state=None,
        tol=0.0001, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
        early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-08,
        n_iter_no_change=10, max_fun=15000, device="auto", callbacks=None, compile=False,
        precision="auto", num_workers=0, persistent_workers=False, prefetch_factor=None,
        pin_memory="auto", n_processes=None, dropout=0.0, batch_norm=False):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.callbacks = callbacks
        self.compile = compile
        self.precision = precision
        self.num_workers = num_workers
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.n_processes = n_processes
        self.dropout = dropout
        self.batch_norm = batch_norm
