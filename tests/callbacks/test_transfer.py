"""Freezer, Unfreezer, GradientNormClipping and TensorBoard on real fits."""

import numpy as np
import pytest
import torch
from conftest import TinyNet

from sklnn import MLPClassifierGPU, NeuralNetClassifier
from sklnn.callbacks import (
    Callback,
    EpochScoring,
    Freezer,
    GradientNormClipping,
    TensorBoard,
    Unfreezer,
)


def _weights(module, prefix):
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k.startswith(prefix)}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_frozen_weights_stay_bit_identical_under_decay_and_penalty(binary_data):
    X, y = binary_data
    net = TinyNet(X.shape[1], 1, hidden=6)
    for optimizer, alpha in (("adamw", 0.1), ("sgd", 0.1)):
        clf = NeuralNetClassifier(net, optimizer=optimizer, alpha=alpha, max_iter=5,
                                  learning_rate_init=0.05, callbacks=[Freezer("body.*")],
                                  random_state=0).fit(X, y)
        assert _equal(_weights(clf.module_, "body"), _weights(net, "body"))
        assert not _equal(_weights(clf.module_, "head"), _weights(net, "head"))
        assert all(p.requires_grad for p in clf.module_.parameters())  # unfrozen after


def test_freezing_a_builtin_mlp_steps_off_its_fast_path(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(5,), max_iter=1, warm_start=True,
                           random_state=0).fit(X, y)
    hidden = _weights(clf.module_, "hidden")
    clf.set_params(max_iter=3, callbacks=[Freezer("hidden.*")]).fit(X, y)
    assert _equal(_weights(clf.module_, "hidden"), hidden)


def test_unfreezer_lets_the_body_train_from_its_epoch(binary_data):
    X, y = binary_data
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, trainer, *, record, **kwargs):
            snapshots.append(_weights(trainer.module, "body"))

    net = TinyNet(X.shape[1], 1, hidden=6)
    NeuralNetClassifier(net, max_iter=4, learning_rate_init=0.05, random_state=0, callbacks=[
        Freezer("body.*"), Unfreezer("body.*", at_epoch=3), Snapshot()]).fit(X, y)
    start = _weights(net, "body")
    assert _equal(snapshots[0], start) and _equal(snapshots[1], start)
    assert not _equal(snapshots[2], start) and not _equal(snapshots[3], snapshots[2])


def test_a_pattern_matching_nothing_names_the_parameters(binary_data):
    X, y = binary_data
    clf = NeuralNetClassifier(TinyNet, max_iter=2, callbacks=[Freezer(["body.*", "bdy.*"])])
    with pytest.raises(ValueError, match=r"'bdy\.\*' matches no parameter.*body\.0\.weight"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_gradients_reach_the_optimiser_clipped(binary_data):
    X, y = binary_data
    norms = []

    class Norm(Callback):
        def on_grad_computed(self, trainer, **kwargs):
            grads = [p.grad for p in trainer.module.parameters()]
            norms.append(float(torch.nn.utils.get_total_norm(grads)))

    MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=2, learning_rate_init=0.1,
                     callbacks=[GradientNormClipping(0.01), Norm()], random_state=0).fit(X, y)
    assert len(norms) == 4 and max(norms) <= 0.01 * (1 + 1e-5)
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        MLPClassifierGPU(max_iter=1, callbacks=[GradientNormClipping(-1.0)]).fit(X, y)


def test_tensorboard_writes_every_epoch_s_record_as_scalars(binary_data, tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard needs the tensorboard package")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=3, random_state=0, callbacks=[
        EpochScoring("accuracy", on_train=True), TensorBoard(tmp_path / "run", prefix="mlp/")])
    clf.fit(X, y)
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"mlp/train_loss", "mlp/lr", "mlp/train_accuracy"} <= tags
    losses = [(e.step, e.value) for e in events.Scalars("mlp/train_loss")]
    assert [s for s, _ in losses] == [1, 2, 3]
    np.testing.assert_allclose([v for _, v in losses], clf.loss_curve_, rtol=1e-6)
    assert clf.callbacks[1].writer_ is None  # closed: the fitted estimator pickles
