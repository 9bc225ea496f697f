"""MLPAutoencoder and ConvAutoencoder: the transformer API, searches, variational sampling,
denoising, novelty scores and saving."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from tolerances import F32_OUTPUT

import sklnn
from sklnn import ConvAutoencoder, MLPAutoencoder


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16.0).astype(np.float32), y[:400]


#: enough steps on 400 rows for a small network to learn something
QUICK = dict(batch_size=32, learning_rate_init=0.01, random_state=0)


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


AUTOENCODERS = [
    MLPAutoencoder(n_components=6, hidden_layer_sizes=(32,), max_iter=15, random_state=0),
    ConvAutoencoder(n_components=6, filters=(4, 8), max_iter=4, learning_rate_init=0.01,
                    random_state=0),
]


@pytest.mark.parametrize("estimator", AUTOENCODERS, ids=lambda e: type(e).__name__)
def test_transformer_api(estimator, digits):
    X, _ = digits
    model = _fit(clone(estimator), X)
    codes = model.transform(X)
    assert codes.shape == (len(X), 6) and codes.dtype == np.float32
    np.testing.assert_allclose(clone(estimator).fit_transform(X), codes, **F32_OUTPUT)
    reconstruction = model.inverse_transform(codes)
    assert reconstruction.shape == X.shape
    errors = -np.mean((reconstruction - X) ** 2, axis=1)
    np.testing.assert_allclose(model.score_samples(X), errors, rtol=1e-4, atol=1e-7)
    assert model.score(X) == pytest.approx(errors.mean(), rel=1e-4)
    name = type(estimator).__name__.lower()
    assert model.get_feature_names_out().tolist() == [f"{name}{i}" for i in range(6)]
    frame = clone(model).set_output(transform="pandas")
    frame = _fit(frame, X).transform(X)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == [
        f"{name}{i}" for i in range(6)]
    with pytest.raises(ValueError, match="expecting 6 features"):
        model.inverse_transform(codes[:, :5])
    # training improved on the untrained network's reconstructions
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_reconstruction_beats_the_mean_and_partial_fit_continues(digits):
    X, _ = digits
    model = _fit(MLPAutoencoder(n_components=8, hidden_layer_sizes=(64,), max_iter=20,
                                **QUICK), X)
    # well below the error of reconstructing every row by the mean row
    assert model.score(X) > -0.5 * np.mean((X - X.mean(axis=0)) ** 2)
    before = model.score(X)
    for _ in range(5):
        model.partial_fit(X)
    assert model.score(X) > before


def test_n_components_is_searched_in_a_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(
        MLPAutoencoder(hidden_layer_sizes=(32,), max_iter=10, **QUICK),
        LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"mlpautoencoder__n_components": [1, 8]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert search.best_params_ == {"mlpautoencoder__n_components": 8}
    assert search.best_estimator_[0].transform(X).shape == (len(X), 8)
    assert search.best_score_ > 0.6  # chance is 0.1


@pytest.mark.parametrize("cls", [MLPAutoencoder, ConvAutoencoder], ids=lambda c: c.__name__)
def test_variational_codes_are_means_and_samples_are_rows(cls, digits):
    X, _ = digits
    model = _fit(cls(n_components=3, variational=True, kl_weight=0.01, max_iter=5,
                     random_state=0), X)
    np.testing.assert_array_equal(model.transform(X[:5]), model.transform(X[:5]))  # no noise
    drawn = model.sample(7, random_state=0)
    assert drawn.shape == (7, X.shape[1]) and np.isfinite(drawn).all()
    np.testing.assert_array_equal(drawn, model.sample(7, random_state=0))
    assert not np.allclose(drawn, model.sample(7, random_state=1))
    assert np.isfinite(model.loss_)
    with pytest.raises(ValueError, match="variational=False"):
        _fit(cls(n_components=3, max_iter=1, random_state=0), X).sample(2)


def test_the_loss_adds_the_kl_divergence_from_the_prior():
    import torch

    from sklnn.engine.objectives import ReconstructionLoss

    y = torch.zeros(2, 3)
    # reconstruction exact; codes N(1, 1) (KL 0.5 each) and N(0, e^2) (KL (e^2 - 3) / 2)
    raw = torch.tensor([[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                        [0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]])  # 2 codes: means, log-vars
    loss = ReconstructionLoss(3, kl_weight=0.5).per_sample_loss(raw, y)
    expected = [0.5 * 0.5 / 3, 0.5 * 0.5 * (np.exp(2.0) - 3.0) / 3]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    assert ReconstructionLoss(3).per_sample_loss(raw, y).abs().max() == 0  # plain: no KL


def test_the_kl_term_pulls_codes_towards_the_prior(digits):
    X, _ = digits
    import torch

    def divergence(model):  # mean KL of the encoder's Gaussians from N(0, I), per row
        with torch.no_grad():
            mean, log_var = model.module_.encoder(torch.as_tensor(X)).chunk(2, dim=1)
        return float((0.5 * (mean**2 + log_var.exp() - 1 - log_var)).sum(dim=1).mean())

    weak, strong = (_fit(MLPAutoencoder(n_components=4, variational=True, kl_weight=weight,
                                        max_iter=20, **QUICK), X) for weight in (0.001, 1.0))
    assert divergence(strong) < 0.5 * divergence(weak)


def test_denoising_trains_on_noisy_inputs_only(digits):
    X, _ = digits
    noisy = _fit(MLPAutoencoder(n_components=8, noise=0.3, max_iter=20, **QUICK), X)
    clean = _fit(MLPAutoencoder(n_components=8, max_iter=20, **QUICK), X)
    # predictions never add noise: the same rows give the same codes
    np.testing.assert_array_equal(noisy.transform(X), noisy.transform(X))
    # corrupted inputs cost the denoiser little more than clean ones, the plain model more
    corrupted = X + 0.3 * np.random.RandomState(1).standard_normal(X.shape).astype(np.float32)

    def damage(model):
        return np.mean((model.inverse_transform(model.transform(corrupted)) - X) ** 2)

    assert damage(noisy) < damage(clean)
    assert noisy.loss_curve_ != clean.loss_curve_


@pytest.mark.parametrize("cls", [MLPAutoencoder, ConvAutoencoder], ids=lambda c: c.__name__)
def test_score_samples_ranks_outliers_lowest(cls, digits):
    X, _ = digits
    model = _fit(cls(n_components=8, max_iter=10, **QUICK), X[:300])
    rng = np.random.RandomState(0)
    outliers = rng.rand(10, X.shape[1]).astype(np.float32)  # uniform noise, not digits
    scores = model.score_samples(np.vstack([X[300:], outliers]))
    lowest = np.argsort(scores)[:10]
    assert set(lowest) == set(range(100, 110))


@pytest.mark.parametrize("estimator", AUTOENCODERS, ids=lambda e: type(e).__name__)
def test_save_load_round_trip(estimator, digits, tmp_path):
    X, _ = digits
    model = _fit(clone(estimator), X)
    model.save(tmp_path / "ae.sklnn")
    for restored in (sklnn.load(tmp_path / "ae.sklnn"), pickle.loads(pickle.dumps(model))):
        np.testing.assert_allclose(restored.transform(X), model.transform(X), **F32_OUTPUT)
        np.testing.assert_allclose(restored.score_samples(X), model.score_samples(X),
                                   **F32_OUTPUT)
        assert restored.get_feature_names_out().tolist() == \
            model.get_feature_names_out().tolist()


def test_conv_autoencoder_reads_images_and_mirrors_their_size():
    rng = np.random.RandomState(0)
    images = rng.rand(30, 3, 7, 10).astype(np.float32)  # odd and even sides
    model = _fit(ConvAutoencoder(n_components=4, filters=(4, 4), max_iter=2, batch_size=10,
                                 random_state=0),
                 images)
    assert model.input_shape_ == (3, 7, 10)
    assert model.inverse_transform(model.transform(images)).shape == (30, 3 * 7 * 10)
    channels_last = images.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(model.transform(channels_last), model.transform(images),
                               **F32_OUTPUT)
    assert sum(type(m).__name__ == "ConvTranspose2d" for m in model.module_.modules()) == 2


def test_validation_data_are_rows_and_y_is_only_checked(digits):
    X, y = digits
    model = _fit(MLPAutoencoder(n_components=4, max_iter=3, early_stopping=True,
                                random_state=0), X)
    assert len(model.validation_scores_) == 3 and max(model.validation_scores_) < 0
    model = MLPAutoencoder(n_components=4, max_iter=3, random_state=0)
    _fit(model.set_params(early_stopping=True), X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[:300], validation_data=X[300:])
    assert len(model.validation_scores_) == 3
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y[:-1])


def test_warm_start_refuses_another_width(digits):
    X, _ = digits
    model = _fit(MLPAutoencoder(n_components=4, max_iter=2, warm_start=True, random_state=0), X)
    with pytest.raises(ValueError, match="n_components=5"):
        model.set_params(n_components=5).fit(X)


def test_pca_is_the_reference_a_linear_autoencoder_approaches(digits):
    # a linear autoencoder's optimum spans PCA's subspace (Baldi and Hornik, 1989): with
    # identity activations and no hidden layer, L-BFGS reaches PCA's error
    X, _ = digits
    X = X.astype(np.float64)
    pca = PCA(4).fit(X)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    linear = _fit(MLPAutoencoder(n_components=4, hidden_layer_sizes=(), activation="identity",
                                 solver="lbfgs", max_iter=2000, alpha=0.0, tol=0.0,
                                 random_state=0), X)
    error = -linear.score(X)
    assert pca_error * (1 - 1e-6) <= error < 1.02 * pca_error


def test_training_curves_plot_the_reconstruction_score(digits):
    pytest.importorskip("matplotlib")
    from sklnn.plot import TrainingCurveDisplay

    X, _ = digits
    model = _fit(MLPAutoencoder(n_components=4, max_iter=3, early_stopping=True, **QUICK), X)
    display = TrainingCurveDisplay.from_estimator(model)
    assert "train_loss" in display.lines_ and display.score_ax_ is not None
    assert all(r["valid_score"] < 0 for r in model.history_)  # negative squared errors
