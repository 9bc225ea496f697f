"""NeuralNetClassifier and NeuralNetRegressor: a user's own PyTorch module, loss and
optimiser behind the engine every sklnn estimator trains with."""

from __future__ import annotations

from sklnn.estimators._declarations import CLASS_WEIGHT
from sklnn.estimators._tasks import NeuralClassifier, NeuralRegressor
from sklnn.estimators._user_module import UserModule, user_module_params


class NeuralNetClassifier(UserModule, NeuralClassifier):
    """Your own ``torch.nn.Module`` as a scikit-learn classifier.

    The module returns one row of outputs per sample: logits (or probabilities,
    or log-probabilities) for each class, or one output for a binary problem,
    or one per label for multilabel targets. Labels, ``predict_proba``,
    ``class_weight``, ``partial_fit``, ``warm_start``, early stopping, callbacks,
    devices, data-parallel fits and streamed Datasets work as for every sklnn
    estimator; ``module__*``, ``criterion__*``, ``optimizer__*`` and
    ``callbacks__NAME__*`` are parameters a grid search can tune.

    Parameters
    ----------
    <<parameters>>
    **kwargs
        ``module__*``, ``criterion__*`` and ``optimizer__*``: arguments of the
        module, loss and optimiser classes.

    Attributes
    ----------
    <<attributes: classes_ COMMON>>
    input_shape_ : tuple of int
        Shape of one sample of X, as the module receives it.
    criterion_ : torch.nn.Module
        The loss the last fit trained with.
    optimizer_ : torch.optim.Optimizer or None
        The optimiser of the last fit (None for "lbfgs").

    See Also
    --------
    NeuralNetRegressor : the same for regression.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import make_classification
    >>> from sklnn import NeuralNetClassifier
    >>> class Net(torch.nn.Module):
    ...     def __init__(self, n_features_in, n_outputs, hidden=16):
    ...         super().__init__()
    ...         self.body = torch.nn.Sequential(torch.nn.Linear(n_features_in, hidden),
    ...                                         torch.nn.ReLU())
    ...         self.head = torch.nn.Linear(hidden, n_outputs)
    ...     def forward(self, X):
    ...         return self.head(self.body(X))
    >>> X, y = make_classification(n_samples=200, n_classes=3, n_informative=4,
    ...                            random_state=0)
    >>> clf = NeuralNetClassifier(Net, module__hidden=32, max_iter=100,
    ...                           learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _declared_params = user_module_params(CLASS_WEIGHT)

    def __init__(self, module, *, criterion=None, optimizer="adam", alpha=0.0, batch_size="auto",
        learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
        shuffle=True, random_state=None, tol=0.0001, verbose=False, warm_start=False,
        momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10, max_fun=15000,
        device="auto", callbacks=None, compile=False, precision="auto", num_workers=0,
        persistent_workers=False, prefetch_factor=None, pin_memory="auto", n_processes=None,
        class_weight=None, **kwargs):
        self.module = module
        self.criterion = criterion
        self.optimizer = optimizer
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
        self.class_weight = class_weight
        self._kwargs = kwargs


class NeuralNetRegressor(UserModule, NeuralRegressor):
    """Your own ``torch.nn.Module`` as a scikit-learn regressor.

    The module returns one row of outputs per sample, one per target (or a
    vector for a single target). ``partial_fit``, ``warm_start``, early
    stopping, callbacks, devices, data-parallel fits and streamed Datasets work
    as for every sklnn estimator; ``module__*``, ``criterion__*``,
    ``optimizer__*`` and ``callbacks__NAME__*`` are parameters a grid search
    can tune.

    Parameters
    ----------
    <<parameters>>
    **kwargs
        ``module__*``, ``criterion__*`` and ``optimizer__*``: arguments of the
        module, loss and optimiser classes.

    Attributes
    ----------
    <<attributes: COMMON>>
    input_shape_ : tuple of int
        Shape of one sample of X, as the module receives it.
    criterion_ : torch.nn.Module
        The loss the last fit trained with.
    optimizer_ : torch.optim.Optimizer or None
        The optimiser of the last fit (None for "lbfgs").

    See Also
    --------
    NeuralNetClassifier : the same for classification.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import make_regression
    >>> from sklnn import NeuralNetRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 32), torch.nn.Tanh(),
    ...                           torch.nn.Linear(32, 1))
    >>> reg = NeuralNetRegressor(net, optimizer=torch.optim.RMSprop, max_iter=200,
    ...                          learning_rate_init=0.01, random_state=0).fit(X, y / y.std())
    >>> bool(reg.score(X, y / y.std()) > 0.95)
    True
    """

    _declared_params = user_module_params()

    def __init__(self, module, *, criterion=None, optimizer="adam", alpha=0.0, batch_size="auto",
        learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
        shuffle=True, random_state=None, tol=0.0001, verbose=False, warm_start=False,
        momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10, max_fun=15000,
        device="auto", callbacks=None, compile=False, precision="auto", num_workers=0,
        persistent_workers=False, prefetch_factor=None, pin_memory="auto", n_processes=None,
        **kwargs):
        self.module = module
        self.criterion = criterion
        self.optimizer = optimizer
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
        self._kwargs = kwargs
