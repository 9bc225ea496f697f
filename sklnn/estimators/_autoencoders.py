"""MLPAutoencoder and ConvAutoencoder: the two autoencoder architectures."""

from __future__ import annotations

from torch import nn

from sklnn.estimators._autoencoder_base import AUTOENCODER_PARAMS, OPTIONS, AutoencoderBase
from sklnn.estimators._declarations import SIZES, Param, check_sizes, engine_params
from sklnn.estimators._images import IMAGE_PARAMS, ImageInputs
from sklnn.estimators._mlp import ACTIVATION, MLP_PARAMS
from sklnn.modules.autoencoders import conv_autoencoder, mlp_autoencoder
from sklnn.validation import check_layer_sizes

HIDDEN = MLP_PARAMS[0].replace(default=(512,))  # chosen on MNIST (docs/autoencoders.md)
CODES_ACTIVATION = ACTIVATION.replace(positional=False, doc=(
    "Activation of the hidden layers (the codes and the reconstruction have none)."))


class MLPAutoencoder(AutoencoderBase):
    """Dense autoencoder: a non-linear, learned alternative to PCA in a Pipeline.

    The encoder runs through ``hidden_layer_sizes`` to ``n_components`` codes,
    the decoder through the same sizes in reverse back to the features; it is
    trained to minimise the squared reconstruction error. Standardise the
    features (or scale them to [0, 1]) first, as for PCA.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: COMMON>>

    See Also
    --------
    ConvAutoencoder : convolutions and transposed convolutions for images.
    sklearn.decomposition.PCA : the linear autoencoder's solution in closed form.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklnn import MLPAutoencoder
    >>> X = load_digits().data[:300] / 16.0
    >>> ae = MLPAutoencoder(n_components=8, hidden_layer_sizes=(64,), max_iter=20,
    ...                     random_state=0).fit(X)
    >>> ae.transform(X).shape, ae.inverse_transform(ae.transform(X[:2])).shape
    ((300, 8), (2, 64))
    >>> ae.get_feature_names_out()[:2].tolist()
    ['mlpautoencoder0', 'mlpautoencoder1']
    """

    _declared_params = (*AUTOENCODER_PARAMS, HIDDEN, CODES_ACTIVATION, *OPTIONS,
                        *engine_params())

    def __init__(self, n_components=2, hidden_layer_sizes=(512,), *, activation="relu",
        variational=False, kl_weight=1.0, noise=0.0, solver="adam", alpha=0.0001,
        batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
        max_iter=200, shuffle=True, random_state=None, tol=0.0001, verbose=False,
        warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
        validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10,
        max_fun=15000, device="auto", callbacks=None, compile=False, precision="auto",
        num_workers=0, persistent_workers=False, prefetch_factor=None, pin_memory="auto",
        n_processes=None):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.variational = variational
        self.kl_weight = kl_weight
        self.noise = noise
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

    def _build_module(self, n_features, n_outputs):
        return mlp_autoencoder(
            n_features, int(self.n_components),
            check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes),
            activation=self.activation, variational=bool(self.variational),
            noise=float(self.noise))


CONV_PARAMS = (
    Param("filters", (32, 64), SIZES, "sequence of int", """
        Channels of each encoder convolution (3x3, stride 2, padding 1: each
        halves the image's sides); the decoder's transposed convolutions
        retrace them in reverse.""", positional=True, check=check_sizes(min_layers=1)),
    ACTIVATION.replace(positional=False, doc=(
        "Activation after every hidden convolution, transposed convolution and dense "
        "layer (the codes and the reconstruction have none).")),
)


class ConvAutoencoder(ImageInputs, AutoencoderBase):
    """Convolutional autoencoder for images, decoding with transposed convolutions.

    The encoder's strided convolutions halve the image's sides step by step and a
    linear layer maps the last feature map to ``n_components`` codes; the decoder
    maps the codes back to that map and retraces the steps with
    ``nn.ConvTranspose2d`` (the "upsampling convolution"), each restoring its
    step's size exactly. Images arrive as for :class:`CNNImageClassifier`; the
    reconstructions (``inverse_transform``) are flat channels-first rows.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: input_shape_ COMMON>>

    See Also
    --------
    MLPAutoencoder : dense layers, for any tabular data.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklnn import ConvAutoencoder
    >>> X = load_digits().data[:200] / 16.0
    >>> ae = ConvAutoencoder(n_components=8, filters=(8,), max_iter=5, random_state=0).fit(X)
    >>> ae.input_shape_, ae.transform(X).shape
    ((1, 8, 8), (200, 8))
    """

    _declared_params = (*AUTOENCODER_PARAMS, *CONV_PARAMS, *OPTIONS, *IMAGE_PARAMS[:2],
                        *engine_params(batch_size=128, max_iter=20))

    def __init__(self, n_components=2, filters=(32, 64), *, activation="relu",
        variational=False, kl_weight=1.0, noise=0.0, input_shape=None, data_format="auto",
        solver="adam", alpha=0.0001, batch_size=128, learning_rate="constant",
        learning_rate_init=0.001, power_t=0.5, max_iter=20, shuffle=True, random_state=None,
        tol=0.0001, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
        early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
        epsilon=1e-08, n_iter_no_change=10, max_fun=15000, device="auto", callbacks=None,
        compile=False, precision="auto", num_workers=0, persistent_workers=False,
        prefetch_factor=None, pin_memory="auto", n_processes=None):
        self.n_components = n_components
        self.filters = filters
        self.activation = activation
        self.variational = variational
        self.kl_weight = kl_weight
        self.noise = noise
        self.input_shape = input_shape
        self.data_format = data_format
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

    def _check_architecture(self) -> None:
        check_layer_sizes("filters", self.filters)

    def _build_module(self, n_features, n_outputs):
        return conv_autoencoder(
            self.input_shape_, int(self.n_components), check_layer_sizes("filters", self.filters),
            activation=self.activation, variational=bool(self.variational),
            noise=float(self.noise))

    def _n_layers(self) -> int:
        weighted = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
        return sum(isinstance(m, weighted) for m in self.module_.modules()) + 1
