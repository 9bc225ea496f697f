"""Convolutional networks train channels-last on the CPU, with the results of the default layout,
except where oneDNN's channels-last weight gradient is wrong (a strided 1x1 convolution with
fewer than 16 input channels): those train in the default layout."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

import sklnn
from sklnn import CNNImageClassifier, ResNetClassifier
from sklnn.engine import devices
from sklnn.engine.devices import channels_last_trains_safely, place_module

CPU = torch.device("cpu")
# Two short fits that differ only in the convolutions' memory layout: oneDNN sums in another
# order in each, a few float32 ulps per layer and step, which training carries forward over
# its 2 x 4 steps (probabilities of order 1; a real difference moves them by 1e-2 or more).
LAYOUT_TOLERANCE = dict(rtol=1e-3, atol=1e-4)


def channels_last(module: nn.Module) -> bool:
    weights = [m.weight for m in module.modules() if isinstance(m, nn.Conv2d)
               and m.weight.shape[1] > 1 and m.kernel_size != (1, 1)]
    assert weights, "no weight whose layout the test can see"
    return all(w.is_contiguous(memory_format=torch.channels_last)
               and not w.is_contiguous() for w in weights)


def images(n=64, size=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 1, size, size), dtype=np.float32)
    y = (X[:, 0, : size // 2].mean(axis=(1, 2)) > X[:, 0, size // 2:].mean(axis=(1, 2)))
    return X, y.astype(np.int64)


@pytest.mark.parametrize("conv, safe", [
    (nn.Conv2d(8, 16, 1, stride=2), False),   # oneDNN issue #6035: 1x1, strided, 8 < 16
    (nn.Conv2d(15, 32, 1, stride=(1, 2)), False),
    (nn.Conv2d(16, 32, 1, stride=2), True),   # a full channel block
    (nn.Conv2d(8, 16, 1, stride=1), True),    # no stride: not the faulty kernel
    (nn.Conv2d(8, 16, 3, stride=2), True),    # not 1x1
])
def test_the_faulty_convolution_alone_keeps_a_network_in_the_default_layout(conv, safe):
    network = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), conv)
    assert channels_last_trains_safely(network) is safe
    placed = place_module(network, CPU)
    assert placed[2].weight.is_contiguous(
        memory_format=torch.channels_last if safe else torch.contiguous_format)
    assert not channels_last_trains_safely(nn.Linear(3, 2))  # nothing to lay out


def fit(estimator, X, y, monkeypatch=None, layout="channels_last"):
    with monkeypatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if layout == "default":
            patch.setattr(devices, "channels_last_trains_safely", lambda module: False)
        return estimator.fit(X, y)


@pytest.mark.parametrize("make", [
    lambda: CNNImageClassifier(filters=(8, 16), dense_layers=(16,), batch_size=16, max_iter=2,
                               dropout=0.0, shift_range=0, learning_rate="constant",
                               random_state=0),
    lambda: ResNetClassifier(8, batch_size=16, max_iter=2, random_state=0),
    lambda: ResNetClassifier(8, shortcut="B", batch_size=16, max_iter=2, random_state=0),
], ids=["lecture CNN", "ResNet-8", "ResNet-8 B"])
def test_channels_last_training_matches_the_default_layout(make, monkeypatch):
    X, y = images()
    fast = fit(make(), X, y, monkeypatch)
    default = fit(make(), X, y, monkeypatch, layout="default")
    assert channels_last(fast.module_) and not channels_last(default.module_)
    np.testing.assert_allclose(fast.loss_curve_, default.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(fast.predict_proba(X), default.predict_proba(X),
                               **LAYOUT_TOLERANCE)


def test_a_narrow_projection_shortcut_trains_in_the_default_layout():
    X, y = images()
    clf = ResNetClassifier(8, width=0.5, shortcut="B", batch_size=16, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    shortcuts = [m for m in clf.module_.modules()
                 if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert shortcuts and min(m.in_channels for m in shortcuts) == 8
    assert all(m.weight.is_contiguous() for m in clf.module_.modules()
               if isinstance(m, nn.Conv2d))


def test_lbfgs_save_and_load_keep_a_channels_last_network_working(tmp_path):
    X, y = images(n=32)
    clf = CNNImageClassifier(filters=(4, 8), dense_layers=(8,), solver="lbfgs", max_iter=3,
                             batch_size=32, dropout=0.0, shift_range=0,
                             learning_rate="constant", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert channels_last(clf.module_)  # L-BFGS writes its iterates into the same layout
    clf.save(tmp_path / "cnn.sklnn")
    loaded = sklnn.load(tmp_path / "cnn.sklnn")
    assert channels_last(loaded.module_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


class UserNet(nn.Module):
    """A network written the common way: ``view`` to flatten, which a channels-last
    activation refuses."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.out = nn.Linear(8 * 10 * 10, 2)

    def forward(self, x):
        h = torch.relu(self.conv(x.view(len(x), 1, 12, 12)))
        return self.out(h.view(len(h), -1))


def test_a_users_own_module_trains_in_the_layout_it_was_written_for():
    from sklnn import NeuralNetClassifier

    assert place_module(UserNet(), CPU).conv.weight.is_contiguous()
    X, y = images(n=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = NeuralNetClassifier(UserNet, max_iter=2, batch_size=16, random_state=0).fit(X, y)
    assert clf.module_.conv.weight.is_contiguous()
    assert clf.predict(X).shape == (32,)
