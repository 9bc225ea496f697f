"""Image classifiers: input layouts, shapes, summaries, the lecture's and the paper's numbers."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from tolerances import F32_OUTPUT

import sklnn.engine.inference as inference
from sklnn import CNNImageClassifier, ResNetClassifier
from sklnn.datasets import load_mnist_test
from sklnn.modules import (
    CNN,
    BasicBlock,
    CifarResNet,
    RandomShiftFlip,
    ZeroPadShortcut,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)

# the lecture's training (without the default dropout, shifts, small batches and schedule)
TINY_CNN = dict(filters=(4,), dense_layers=(8,), max_iter=2, random_state=0, dropout=0.0,
                shift_range=0, batch_size=128, learning_rate="constant")
TINY_RESNET = dict(depth=8, width=0.25, max_iter=2, random_state=0)


@pytest.fixture(scope="module")
def rgb_images():
    """40 random 3-channel 6x5 images (channels first) with 3 labels."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3, 6, 5).astype(np.float32)
    y = rng.randint(0, 3, 40)
    return X, y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.mark.parametrize(
    "estimator", [CNNImageClassifier(**TINY_CNN), ResNetClassifier(**TINY_RESNET)],
    ids=["cnn", "resnet"],
)
def test_every_input_layout_gives_the_same_model_and_predictions(estimator, rgb_images):
    X, y = rgb_images
    n = len(X)
    channels_last = X.transpose(0, 2, 3, 1)
    flat_first = X.reshape(n, -1)
    flat_last = channels_last.reshape(n, -1)
    layouts = {
        "(n, C, H, W)": (estimator, X),
        "(n, H, W, C)": (clone(estimator).set_params(data_format="channels_last"),
                         channels_last),
        "(n, H, W, C) auto": (estimator, channels_last),
        "flat C*H*W": (clone(estimator).set_params(input_shape=(3, 6, 5)), flat_first),
        "flat H*W*C": (clone(estimator).set_params(input_shape=(6, 5, 3)), flat_last),
        "DataFrame": (clone(estimator).set_params(input_shape=(3, 6, 5)),
                      pd.DataFrame(flat_first)),
    }
    fits = {name: clone(est).fit(data, y) for name, (est, data) in layouts.items()}
    reference = fits["(n, C, H, W)"].predict_proba(X)
    for name, fitted in fits.items():
        assert fitted.input_shape_ == (3, 6, 5), name
        assert fitted.n_features_in_ == 90, name
        proba = fitted.predict_proba(layouts[name][1])
        np.testing.assert_allclose(proba, reference, **F32_OUTPUT, err_msg=name)
    model = fits["(n, C, H, W)"]
    # after fitting, both 4-D layouts and flat channels-first rows are recognised
    np.testing.assert_allclose(model.predict_proba(channels_last), reference, **F32_OUTPUT)
    np.testing.assert_allclose(model.predict_proba(flat_first), reference, **F32_OUTPUT)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(3, 6, 5\)"):
        fits["(n, H, W, C)"].predict(X)  # an explicit data_format is not second-guessed


def test_single_channel_layouts_agree(digits):
    X, y = digits[0][:60], digits[1][:60]
    images = X.reshape(-1, 8, 8)
    clf = CNNImageClassifier(**TINY_CNN).fit(images, y)
    assert clf.input_shape_ == (1, 8, 8)
    expected = clf.predict_proba(images)
    for layout in (images[:, None], images[..., None], X, list(X)):
        np.testing.assert_allclose(clf.predict_proba(layout), expected, **F32_OUTPUT)
    # flat rows of a perfect-square length are read as square one-channel images
    assert CNNImageClassifier(**TINY_CNN).fit(X, y).input_shape_ == (1, 8, 8)


def test_rows_without_input_shape_become_one_row_images():
    rng = np.random.RandomState(0)
    X, y = rng.rand(30, 5), rng.randint(0, 2, 30)
    for clf in (CNNImageClassifier(**TINY_CNN), ResNetClassifier(**TINY_RESNET)):
        clf.fit(X, y)
        assert clf.input_shape_ == (1, 1, 5)
        assert clf.predict(X).shape == (30,)


def test_wrong_image_size_names_the_expected_shape(digits):
    X, y = digits[0][:40], digits[1][:40]
    clf = CNNImageClassifier(**TINY_CNN).fit(X.reshape(-1, 1, 8, 8), y)
    with pytest.raises(ValueError, match=r"shape \(1, 7, 7\).*images of shape \(1, 8, 8\)"):
        clf.predict(np.zeros((2, 1, 7, 7), np.float32))
    with pytest.raises(ValueError, match=r"shape \(3, 8, 8\).*\(1, 8, 8\)"):
        clf.predict(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"X has 49 features.*expecting 64.*\(1, 8, 8\)"):
        clf.predict(np.zeros((2, 49)))
    with pytest.raises(ValueError, match=r"input_shape=\(7, 7\) needs rows of 49 values"):
        clone(clf).set_params(input_shape=(7, 7)).fit(X, y)
    with pytest.raises(ValueError, match=r"declares \(input_shape\) images of shape \(1, 7, 7\)"):
        clone(clf).set_params(input_shape=(7, 7)).fit(X.reshape(-1, 8, 8), y)


def test_invalid_architectures_raise_clear_errors(digits):
    X, y = digits[0][:20], digits[1][:20]
    with pytest.raises(ValueError, match=r"6n \+ 2"):
        ResNetClassifier(depth=21).fit(X, y)
    with pytest.raises(ValueError, match=r"6n \+ 2"):
        CifarResNet(depth=21)
    with pytest.raises(ValueError, match="padding"):
        CNNImageClassifier(padding="full").fit(X, y)
    with pytest.raises(ValueError, match="pool_after"):
        CNNImageClassifier(pool_after=[2]).fit(X, y)
    with pytest.raises(ValueError, match="shortcut"):
        ResNetClassifier(shortcut="C").fit(X, y)
    with pytest.raises(ValueError, match="input_shape"):
        CNNImageClassifier(input_shape=(8, 0)).fit(X, y)


def test_default_parameters_build_and_train(digits):
    X, y = digits[0][:32], digits[1][:32]
    cnn, resnet = CNNImageClassifier(), ResNetClassifier()
    for clf in (cnn, resnet):
        clf.set_params(max_iter=1, random_state=0).fit(X, y)
        assert clf.n_iter_ == 1
        assert np.isfinite(clf.loss_)
    assert cnn.n_layers_ == 5  # 2 convolutions, 2 dense layers, the input
    assert resnet.n_layers_ == 21  # ResNet-20's 19 convolutions, 1 dense layer, the input


def test_summary_totals_match_the_parameters(digits):
    X, y = digits[0][:40], digits[1][:40]
    for clf in (CNNImageClassifier(**TINY_CNN), ResNetClassifier(**TINY_RESNET, shortcut="B")):
        clf.fit(X, y)
        summary = clf.summary(print_fn=None)
        n_params = sum(p.numel() for p in clf.module_.parameters())
        assert summary.total_params == n_params
        assert sum(row.n_params for row in summary.rows) == n_params
        assert summary.rows[0].output_shape == (1, 8, 8)


def test_lecture_worked_example_has_338460_parameters_before_the_output_layer():
    images, labels = load_mnist_test(return_X_y=True)
    clf = CNNImageClassifier(filters=(10,), kernel_size=5, padding=1, dense_layers=(200,),
                             max_iter=1, random_state=0)
    clf.fit(images[:64], labels[:64])
    rows = clf.summary(print_fn=None).rows
    by_layer = [(row.layer, row.output_shape, row.n_params) for row in rows]
    assert ("Conv2d", (10, 26, 26), 250 + 10) in by_layer
    assert ("MaxPool2d", (10, 13, 13), 0) in by_layer
    assert ("Flatten", (1690,), 0) in by_layer
    assert ("Linear", (200,), 338_000 + 200) in by_layer
    assert rows[-1].layer == "Linear" and rows[-1].output_shape == (10,)
    assert sum(row.n_params for row in rows[:-1]) == 338_460
    assert rows[-1].n_params == 200 * 10 + 10


@pytest.mark.parametrize(
    "constructor, paper_millions",
    [(resnet20, 0.27), (resnet32, 0.46), (resnet44, 0.66), (resnet56, 0.85), (resnet110, 1.7)],
)
def test_resnet_parameter_counts_match_the_paper(constructor, paper_millions):
    network = constructor(10, in_channels=3)
    n_params = sum(p.numel() for p in network.parameters())
    assert float(f"{n_params / 1e6:.2g}") == paper_millions
    # option A shortcuts are parameter-free: the plain network has the same count
    plain = constructor(10, in_channels=3, residual=False)
    assert sum(p.numel() for p in plain.parameters()) == n_params
    projection = constructor(10, in_channels=3, shortcut="B")
    assert sum(p.numel() for p in projection.parameters()) > n_params


def _silence_residual_branches(network):
    """Zero the last batch norm of every block, so each block's F(x) is exactly 0."""
    with torch.no_grad():
        for block in network.modules():
            if isinstance(block, BasicBlock):
                block.bn2.weight.zero_()
                block.bn2.bias.zero_()


def test_plain_network_has_no_skip_connections():
    torch.manual_seed(0)
    plain = resnet20(10, in_channels=1, residual=False).eval()
    residual = resnet20(10, in_channels=1).eval()
    residual.load_state_dict(plain.state_dict())
    blocks = [m for m in plain.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9 and all(block.shortcut is None for block in blocks)
    assert not any(isinstance(m, ZeroPadShortcut) for m in plain.modules())
    assert sum(isinstance(m, ZeroPadShortcut) for m in residual.modules()) == 2
    _silence_residual_branches(plain)
    _silence_residual_branches(residual)
    x1, x2 = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        # with F(x) = 0 a plain network passes nothing on: every input gives the same output
        torch.testing.assert_close(plain(x1), plain(x2))
        # the shortcuts still carry the stem's features to the classifier
        assert not torch.allclose(residual(x1), residual(x2))
        # and a stride-1 residual block is then the identity on non-negative input
        block = residual.stages[0][0]
        features = torch.rand(2, 16, 8, 8)
        torch.testing.assert_close(block(features), features)


@pytest.mark.parametrize("size", [8, 28, 32])
def test_forward_pass_on_common_image_sizes(size):
    for network in (resnet20(10, in_channels=3), CNN((3, size, size), 10)):
        out = network.eval()(torch.rand(2, 3, size, size))
        assert out.shape == (2, 10)
        assert torch.isfinite(out).all()


def test_rgb_channels_last_with_augmentation_and_schedule():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (32, 32, 32, 3)).astype(np.uint8)
    y = rng.randint(0, 2, 32)
    clf = ResNetClassifier(depth=8, width=0.25, max_iter=3, shift_range=4,
                           horizontal_flip=True, learning_rate="step", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a schedule runs all epochs by design
        clf.fit(X, y)
    assert clf.input_shape_ == (3, 32, 32)
    assert isinstance(clf.module_[1], RandomShiftFlip)
    assert [r["lr"] for r in clf.history_] == pytest.approx([0.1, 0.01, 0.001])
    # integer pixels become float32 (not rescaled): same predictions as the float copy
    assert clf.module_[2].classifier.weight.dtype == torch.float32
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X.astype(np.float32)))


def test_cosine_schedule_decays_from_learning_rate_init(digits):
    X, y = digits[0][:64], digits[1][:64]
    clf = CNNImageClassifier(**{**TINY_CNN, "max_iter": 4, "learning_rate": "cosine"},
                             learning_rate_init=0.01).fit(X, y)
    rates = [r["lr"] for r in clf.history_]
    assert rates[0] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_random_shift_flip_moves_pixels_only_in_training():
    torch.manual_seed(0)
    layer = RandomShiftFlip(max_shift=2, horizontal_flip=True)
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 3:6, 3:6] = torch.rand(64, 1, 3, 3)  # content stays inside after shifts of 2
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    moved = layer(x)
    torch.testing.assert_close(moved.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    changed = (moved != x).flatten(1).any(1)
    assert 0 < int(changed.sum()) < 64


def test_prediction_in_small_batches_matches(digits, monkeypatch):
    X, y = digits
    clf = CNNImageClassifier(**TINY_CNN).fit(X[:100], y[:100])
    expected = clf.predict_proba(X)
    monkeypatch.setattr(inference, "CPU_BATCH_VALUES", 1)
    monkeypatch.setattr(inference, "ACCELERATOR_BATCH_VALUES", 1)
    assert clf._predict_batch_rows() == 16
    np.testing.assert_allclose(clf.predict_proba(X), expected, **F32_OUTPUT)


def test_pipeline_grid_search_over_filters_and_depth(digits):
    X, y = digits[0][:120], digits[1][:120]
    searches = [
        (CNNImageClassifier(**TINY_CNN, input_shape=(8, 8)), "filters", [(2,), (6,)]),
        (ResNetClassifier(**{**TINY_RESNET, "max_iter": 1}), "depth", [8, 14]),
    ]
    for estimator, name, values in searches:
        pipeline = make_pipeline(MinMaxScaler(), estimator)
        key = f"{type(estimator).__name__.lower()}__{name}"
        search = GridSearchCV(pipeline, {key: values}, cv=2).fit(X, y)
        assert search.best_params_[key] in values
        assert len(search.cv_results_["mean_test_score"]) == 2
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_cnn_learns_8x8_digits(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    # small enough for the engine's single-thread rule; the example trains the two-layer CNN
    clf = CNNImageClassifier(filters=(8,), padding="same", dense_layers=(64,), batch_size=32,
                             learning_rate="cosine", learning_rate_init=0.003, max_iter=10,
                             dropout=0.0, shift_range=0, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


def test_partial_fit_and_warm_start_keep_the_image_shape(digits):
    X, y = digits[0][:60].reshape(-1, 8, 8), digits[1][:60]
    clf = CNNImageClassifier(**TINY_CNN)
    clf.partial_fit(X[:30], y[:30], classes=np.arange(10))
    weights = clf.module_[1].output.weight.detach().clone()
    clf.partial_fit(X[30:], y[30:])
    assert clf.input_shape_ == (1, 8, 8) and clf.n_iter_ == 1 and len(clf.loss_curve_) == 2
    assert not torch.equal(weights, clf.module_[1].output.weight)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(1, 8, 8\)"):
        clf.partial_fit(np.zeros((4, 6, 6), np.float32), y[:4])
    warm = ResNetClassifier(**TINY_RESNET, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"\(1, 8, 8\)"):
        warm.fit(np.zeros((10, 1, 6, 6), np.float32), y[:10])
    assert warm.input_shape_ == (1, 8, 8)  # a failed fit leaves the model as it was


def test_torch_tensor_images_are_accepted():
    import torch

    rng = np.random.RandomState(0)
    images, labels = rng.rand(16, 1, 6, 6).astype(np.float32), np.arange(16) % 2
    clf = CNNImageClassifier(filters=(2,), dense_layers=(4,), max_iter=2, random_state=0)
    clf.fit(torch.from_numpy(images), torch.from_numpy(labels))
    np.testing.assert_array_equal(clf.predict_proba(torch.from_numpy(images)),
                                  clf.predict_proba(images))
