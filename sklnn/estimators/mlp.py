"""MLPClassifierGPU and MLPRegressorGPU: drop-in replacements for scikit-learn's MLPs."""

from __future__ import annotations

import numpy as np
import torch

from sklnn.engine.solvers import LEARNING_RATES
from sklnn.estimators.tasks import NeuralClassifier, NeuralRegressor
from sklnn.modules.activations import ACTIVATIONS
from sklnn.modules.mlp import MLP, glorot_uniform_
from sklnn.validation import check_choice, check_layer_sizes, check_real

_SHARED_PARAMS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units in the ith hidden layer.
    activation : {"identity", "logistic", "tanh", "relu", "leaky_relu", "gelu"}, default="relu"
        Activation of the hidden layers.
    solver : {"adam", "adamw", "sgd", "lbfgs"}, default="adam"
        "adam", "sgd" and "lbfgs" as in scikit-learn; "adamw" applies ``alpha``
        as decoupled weight decay instead of an L2 term in the loss.
    alpha : float, default=0.0001
        L2 penalty 0.5 * alpha * ||W||^2 divided by the batch size, as in scikit-learn.
    batch_size : int or "auto", default="auto"
        "auto" means min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for ``solver="sgd"``.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Epochs for the stochastic solvers, iterations for "lbfgs".
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, the validation split and dropout.
        Equal seeds give identical models on the CPU.
    tol : float, default=1e-4
    verbose : bool, default=False
        Print the loss after each epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score has
        not improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the
        best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decays and numerical constant.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        Maximum loss evaluations for "lbfgs".
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    device : str, default="auto"
        "auto" picks CUDA, else MPS, else the CPU; or "cpu", "cuda", "cuda:1", "mps".
    callbacks : list of Callback or None, default=None
        See :mod:`sklnn.callbacks`.
    compile : bool, default=False
        Train a ``torch.compile``-d network. The first batch's gradients are
        checked against eager mode; on a mismatch training falls back to eager.
    precision : {"auto", "float32", "float64", "bfloat16", "float16"}, default="auto"
        "auto" computes in the input's float type on the CPU (as scikit-learn)
        and in float32 on accelerators. "bfloat16"/"float16" autocast the
        forward pass (float16 needs CUDA)."""

_SHARED_ATTRIBUTES_DOC = """
    loss_ : float
        Training loss (including the L2 term) of the last epoch.
    best_loss_ : float or None
        Smallest training loss; None with early stopping.
    loss_curve_ : list of float
        Training loss per epoch (per iteration for "lbfgs").
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape (n_units_i, n_units_i+1).
    intercepts_ : list of ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string column names.
    n_iter_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    module_ : torch.nn.Module
        The trained network (returns raw outputs).
    device_ : torch.device
    history_ : list of dict
        Per epoch: epoch, train_loss, valid_loss, valid_score, lr, duration."""


class _MLPMixin:
    """Architecture and parameters shared by the two MLP estimators."""

    def _check_params(self):
        check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("learning_rate", self.learning_rate, LEARNING_RATES)
        check_real("momentum", self.momentum, 0.0, 1.0)
        check_real("beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        check_real("beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        check_real("epsilon", self.epsilon, low=0.0, low_open=True)

    def _build_module(self, n_features, n_outputs):
        return MLP(
            n_features,
            check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes),
            n_outputs,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )

    def _init_module(self, module, generator):
        glorot_uniform_(module, self.activation, generator)

    def _n_layers(self):
        return len(check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)) + 2

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices as numpy copies, shaped (fan_in, fan_out) like scikit-learn's."""
        return [layer.weight.detach().T.cpu().numpy().copy() for layer in self._linears()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors as numpy copies."""
        return [layer.bias.detach().cpu().numpy().copy() for layer in self._linears()]

    def _linears(self):
        if "module_" not in vars(self):
            raise AttributeError("coefs_ and intercepts_ exist after fit.")
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]


class MLPClassifierGPU(_MLPMixin, NeuralClassifier):
    __doc__ = f"""Multi-layer perceptron classifier on PyTorch, a drop-in for ``MLPClassifier``.

    Same parameters, defaults, fitted attributes and behaviour as scikit-learn's
    :class:`~sklearn.neural_network.MLPClassifier` (binary, multiclass and
    multilabel targets, ``partial_fit``, ``warm_start``, sparse input, sample
    weights), trained on the GPU when there is one.

    Parameters
    ----------{_SHARED_PARAMS_DOC}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's linear models.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,){_SHARED_ATTRIBUTES_DOC}

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

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        device="auto",
        callbacks=None,
        class_weight=None,
        compile=False,
        precision="auto",
    ):
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
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.device = device
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.compile = compile
        self.precision = precision


class MLPRegressorGPU(_MLPMixin, NeuralRegressor):
    __doc__ = f"""Multi-layer perceptron regressor on PyTorch, a drop-in for ``MLPRegressor``.

    Same parameters, defaults, fitted attributes and behaviour as scikit-learn's
    :class:`~sklearn.neural_network.MLPRegressor` (multi-output targets,
    ``partial_fit``, ``warm_start``, sparse input, sample weights), trained on
    the GPU when there is one.

    Parameters
    ----------
    loss : {{"squared_error", "poisson", "absolute_error", "huber"}}, default="squared_error"
        "squared_error" and "poisson" are scikit-learn's half squared error and
        half Poisson deviance (log link); "huber" uses delta=1.{_SHARED_PARAMS_DOC}

    Attributes
    ----------{_SHARED_ATTRIBUTES_DOC}

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

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        device="auto",
        callbacks=None,
        compile=False,
        precision="auto",
    ):
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
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.device = device
        self.callbacks = callbacks
        self.compile = compile
        self.precision = precision

    def _check_params(self):
        super()._check_params()
        check_choice("loss", self.loss, ("squared_error", "poisson", "absolute_error", "huber"))
