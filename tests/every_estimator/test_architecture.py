"""One declaration per parameter, one vocabulary, and a training loop users can change."""

import inspect
import re
import warnings

import numpy as np
import pytest
import torch
from conftest import (
    CHECKED,
    ESTIMATOR_CLASSES,
    NETWORK_CLASSES,
    SMALL,
    default_instance,
    outputs,
    small,
)
from sklearn.base import clone

from sklnn import (
    CNNImageClassifier,
    MLPClassifierGPU,
    MLPRegressorGPU,
    ResNetClassifier,
    RNNForecaster,
)
from sklnn._sklearn_private import InvalidParameterError
from sklnn.callbacks import Callback
from sklnn.engine import Trainer
from sklnn.estimators._declarations import ENGINE

CLASSES = NETWORK_CLASSES

# Shared parameters whose default differs on purpose, with the reason: from the engine's
# declaration for the engine parameters, from the first estimator (alphabetically) that
# has it and is not listed here for the others.
DEFAULTS_THAT_DIFFER = {
    # images train in fewer, larger batches than tabular data
    ("CNNImageClassifier", "batch_size"), ("CNNImageClassifier", "max_iter"),
    # light regularisation and a schedule, chosen on MNIST (docs/images.md)
    ("CNNImageClassifier", "dropout"), ("CNNImageClassifier", "shift_range"),
    ("CNNImageClassifier", "learning_rate"),
    # ResNetClassifier's defaults are the training recipe of He et al. (2015), section 4.2
    ("ResNetClassifier", "solver"), ("ResNetClassifier", "alpha"),
    ("ResNetClassifier", "batch_size"), ("ResNetClassifier", "learning_rate"),
    ("ResNetClassifier", "learning_rate_init"), ("ResNetClassifier", "max_iter"),
    ("ResNetClassifier", "nesterovs_momentum"), ("ResNetClassifier", "batch_norm"),
    # loss options depend on the task
    ("RNNForecaster", "loss"),
    # measured on MNIST-1D and UCR sets (docs/sequences.md): a classifier reads whole
    # sequences, the forecaster's defaults reproduce the lecture
    ("RNNForecaster", "hidden_size"), ("RNNForecaster", "num_layers"),
    ("RNNForecaster", "bidirectional"), ("RNNClassifier", "learning_rate_init"),
    # and the classifier's training budget under a cosine schedule (cross-validated on
    # the training parts of UCR/UEA sets)
    ("RNNClassifier", "max_iter"), ("RNNClassifier", "learning_rate"),
    # the FCN of Wang et al. (2017): 1-D channels per block, batch norm after every
    # convolution, and the training budget (max_iter="auto") under a cosine schedule
    ("CNNSequenceClassifier", "filters"), ("CNNSequenceClassifier", "batch_norm"),
    ("CNNSequenceClassifier", "max_iter"), ("CNNSequenceClassifier", "learning_rate"),
    # the autoencoders' defaults, chosen on a validation split of MNIST
    # (benchmarks/autoencoders.py --validate): a wider hidden layer than the MLPs', and
    # the image estimators' batches and epochs
    ("MLPAutoencoder", "hidden_layer_sizes"), ("ConvAutoencoder", "batch_size"),
    ("ConvAutoencoder", "max_iter"),
    # a user's own module gets no hidden L2 penalty: PyTorch users expect none
    ("NeuralNetClassifier", "alpha"), ("NeuralNetRegressor", "alpha"),
}
# Shared names whose description differs on purpose: they describe each architecture's
# own layers (where dropout or batch norm go, which layers the activation follows, 2-D
# filters or 1-D channels), or ResNet's alpha, whose default needs the paper's batch-size
# arithmetic, or the sequence classifiers' batch_size, whose "auto" gives small training
# sets more steps, or max_iter, whose "auto" states each estimator's training budget.
DESCRIPTIONS_THAT_DIFFER = {"dropout", "batch_norm", "activation", "loss", "alpha", "batch_size",
                            "filters", "max_iter"}


def _documented_parameters(cls) -> dict[str, str]:
    doc = inspect.getdoc(cls)
    section = doc.split("Parameters\n----------\n", 1)[1]
    section = re.split(r"\n\n(?=[A-Z][a-zA-Z ]+\n-+\n)", section, maxsplit=1)[0]
    section = section.split("\n**kwargs", 1)[0]  # module__*, ..., documented apart
    entries = re.split(r"^(?=\w+ : )", section, flags=re.MULTILINE)
    return {entry.split(" : ", 1)[0]: entry.rstrip() for entry in entries if " : " in entry}


def test_every_public_estimator_is_in_the_shared_lists():
    assert set(SMALL) == set(NETWORK_CLASSES)
    assert {type(est) for est in CHECKED} == set(ESTIMATOR_CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_written_constructor_agrees_with_the_declarations(cls):
    declared = cls._declared_params
    written = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if written[-1].kind is written[-1].VAR_KEYWORD:  # module__*, criterion__*, optimizer__*
        assert written.pop().name == "kwargs" and cls._required_parameters == ["module"]
    assert [p.name for p in written] == [d.name for d in declared]
    leading = True  # positional parameters come first; the rest are keyword-only
    for parameter, declaration in zip(written, declared):
        leading = leading and declaration.positional
        kind = parameter.POSITIONAL_OR_KEYWORD if leading else parameter.KEYWORD_ONLY
        assert parameter.kind == kind, parameter.name
        assert type(parameter.default) is type(declaration.default), parameter.name
        assert parameter.default == declaration.default, parameter.name
    # a function written in the estimator's own module, as IDEs and debuggers expect
    assert cls.__init__.__module__ == cls.__module__
    assert "def __init__(" in inspect.getsource(cls.__init__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_parameter_is_documented_constrained_and_stored(cls):
    signature = inspect.signature(cls.__init__)
    names = [n for n, p in signature.parameters.items()
             if n != "self" and p.kind is not p.VAR_KEYWORD]
    assert list(_documented_parameters(cls)) == names
    assert set(cls._parameter_constraints) == set(names)
    assert "<<" not in cls.__doc__  # every marker was filled in
    estimator = default_instance(cls)
    required = set(getattr(cls, "_required_parameters", []))
    assert estimator.get_params() == {n: signature.parameters[n].default for n in names
                                      if n not in required} | {
        n: getattr(estimator, n) for n in required}


def test_shared_parameters_have_one_default_and_one_meaning():
    seen: dict[str, tuple] = {name: (param.default, f"{name} : {param.kind}\n{param.doc}")
                              for name, param in ENGINE.items()}
    for cls in sorted(CLASSES, key=lambda c: c.__name__):  # the references first
        defaults = default_instance(cls).get_params()
        for name, entry in _documented_parameters(cls).items():
            if name not in seen and (cls.__name__, name) not in DEFAULTS_THAT_DIFFER:
                seen[name] = (defaults[name], entry)
    for cls in sorted(CLASSES, key=lambda c: c.__name__):
        defaults = default_instance(cls).get_params()
        for name, entry in _documented_parameters(cls).items():
            if name not in seen:
                if (cls.__name__, name) not in DEFAULTS_THAT_DIFFER:  # not the reference
                    seen[name] = (defaults[name], entry)
                continue
            first_default, first_entry = seen[name]
            if (cls.__name__, name) not in DEFAULTS_THAT_DIFFER:
                assert defaults[name] == first_default, (cls.__name__, name)
            if name not in DESCRIPTIONS_THAT_DIFFER:
                body = " ".join(entry.split("\n", 1)[-1].split())
                assert body == " ".join(first_entry.split("\n", 1)[-1].split()), (
                    cls.__name__, name)
    # the engine parameters are on every estimator, so every solver is fully configurable
    for cls in CLASSES:
        assert set(ENGINE) - {"solver"} <= set(default_instance(cls).get_params())


@pytest.mark.parametrize("name, value", [
    ("alpha", -1.0), ("solver", "rmsprop"), ("batch_size", 0), ("learning_rate", "linear"),
    ("max_iter", 0), ("validation_fraction", 1.0), ("callbacks", Callback()),
])
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_invalid_values_name_the_parameter(cls, name, value):
    X = np.random.RandomState(0).rand(12, 16)
    y = np.arange(12) % 2
    estimator = default_instance(cls)
    if name == "solver" and "optimizer" in estimator.get_params():
        name = "optimizer"  # the solver's name on a user's own module
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {cls.__name__}"):
        estimator.set_params(**{name: value}).fit(X, y)


def test_n_iter_no_change_accepts_infinity_like_scikit_learn(binary_data):
    from sklearn.neural_network import MLPClassifier

    X, y = binary_data
    params = dict(hidden_layer_sizes=(4,), max_iter=15, tol=10.0, n_iter_no_change=np.inf,
                  random_state=0)
    ours = MLPClassifierGPU(**params).fit(X, y)
    theirs = MLPClassifier(**params).fit(X, y)
    # tol=10 would stop both after 11 epochs with a finite patience
    assert ours.n_iter_ == theirs.n_iter_ == 15


def _images():
    rng = np.random.RandomState(0)
    return rng.rand(24, 1, 8, 8).astype(np.float32), np.arange(24) % 2


def test_cnn_stride_reaches_every_convolution():
    X, y = _images()
    clf = CNNImageClassifier(filters=(2, 2), dense_layers=(4,), max_iter=1, random_state=0,
                             stride=2, padding="same").fit(X, y)
    convs = [m for m in clf.module_.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (2, 2)]


def test_epoch_schedules_work_for_every_estimator_and_not_for_lbfgs(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=4, learning_rate="step",
                           learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a schedule runs all its epochs: no ConvergenceWarning
        clf.fit(X, y)
    assert [r["lr"] for r in clf.history_] == pytest.approx([0.01, 0.01, 0.001, 0.0001])
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifierGPU(solver="lbfgs", learning_rate="cosine").fit(X, y)


def _data_for(cls):
    rng = np.random.RandomState(0)
    if issubclass(cls, (CNNImageClassifier, ResNetClassifier)):
        return _images()
    X = rng.rand(40, 6).astype(np.float32)
    regression = issubclass(cls, (MLPRegressorGPU, RNNForecaster))
    y = X[:, 0] + X[:, 1] if regression else (X[:, 0] > 0.5)
    return X, y.astype(np.float32) if y.dtype.kind == "f" else y.astype(int)


class ClippingTrainer(Trainer):
    """A user's loop: plain autograd steps with the gradient norm clipped to 0.01."""

    max_norm = 0.01

    def train_step(self, X, y, weight):
        self.optimizer.zero_grad()
        loss, _ = self.get_loss(self.forward(X), y, weight)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.max_norm)
        clipped = torch.nn.utils.get_total_norm([p.grad for p in self.module.parameters()
                                                 if p.grad is not None])
        self.estimator.norms_seen_.append((float(norm), float(clipped)))
        self.optimizer.step()
        return loss.detach()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_subclass_changes_the_training_step_of_every_estimator(cls):
    Clipped = type(f"Clipped{cls.__name__}", (cls,), {"trainer_class": ClippingTrainer})
    X, y = _data_for(cls)
    model = clone(small(Clipped, max_iter=3, batch_size=8))
    model.norms_seen_ = []
    model.fit(X, y)
    steps = 3 * int(np.ceil(len(X) / 8))
    assert len(model.norms_seen_) == steps
    assert all(after <= ClippingTrainer.max_norm * (1 + 1e-5) for _, after in model.norms_seen_)
    assert any(before > ClippingTrainer.max_norm for before, _ in model.norms_seen_)
    assert np.isfinite(outputs(model, X).astype(float)).all()


class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_batch_begin(self, trainer, batch_index):
        self.events.append(("begin", batch_index))

    def on_grad_computed(self, trainer, batch_index):
        grads = [p.grad for p in trainer.module.parameters() if p.grad is not None]
        self.events.append(("grad", batch_index, len(grads)))
        torch.nn.utils.clip_grad_norm_(trainer.module.parameters(), 1e-3)

    def on_epoch_end(self, trainer, record):
        self.events.append(("epoch", type(trainer.estimator).__name__,
                            list(trainer.estimator.classes_)))


def test_callbacks_see_each_batch_the_gradients_and_the_estimator(binary_data):
    X, y = binary_data
    recorder = _Recorder()
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=2, batch_size=100,
                           callbacks=[recorder], random_state=0).fit(X, y)
    n_params = len(list(clf.module_.parameters()))
    per_epoch = [("begin", 0), ("grad", 0, n_params), ("begin", 1), ("grad", 1, n_params),
                 ("begin", 2), ("grad", 2, n_params), ("epoch", "MLPClassifierGPU", [0, 1])]
    assert recorder.events == per_epoch * 2
    # the clipping in on_grad_computed acts before the step: plain SGD moves ~1000x less
    sgd = dict(hidden_layer_sizes=(4,), max_iter=2, batch_size=100, solver="sgd",
               momentum=0.0, learning_rate_init=0.1, random_state=0)
    start = MLPClassifierGPU(**{**sgd, "learning_rate_init": 1e-300}).fit(X, y)
    clipped = MLPClassifierGPU(**sgd, callbacks=[_Recorder()]).fit(X, y)
    free = MLPClassifierGPU(**sgd).fit(X, y)

    def moved(model):
        return sum(np.abs(a - b).sum() for a, b in zip(model.coefs_, start.coefs_))

    assert 0 < moved(clipped) < 0.01 * moved(free)


def test_callbacks_are_checked_when_fit_starts(binary_data):
    X, y = binary_data
    with pytest.raises(TypeError, match="the class _Recorder, not an instance"):
        MLPClassifierGPU(callbacks=[_Recorder]).fit(X, y)
    with pytest.raises(TypeError, match="has none of the hooks"):
        MLPClassifierGPU(callbacks=[object()]).fit(X, y)

    class OnlyEpochEnd:  # duck-typed: one hook, no base class
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, trainer, record):
            self.epochs.append(record["epoch"])

    duck = OnlyEpochEnd()
    MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=3, callbacks=[duck]).fit(X, y)
    assert duck.epochs == [1, 2, 3]


def test_fast_paths_step_aside_for_global_hooks_and_can_be_switched_off(binary_data):
    X, y = binary_data
    calls = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: calls.append(type(module).__name__))
    try:
        MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    finally:
        handle.remove()
    assert calls.count("Linear") >= 2 * 2 * 2  # 2 layers, 2 batches, 2 epochs at least

    class Plain(MLPClassifierGPU):
        def _make_trainer(self, *args, **kwargs):
            return super()._make_trainer(*args, **{**kwargs, "fast_paths": False})

    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    fast = MLPClassifierGPU(**params).fit(X, y)
    plain = Plain(**params).fit(X, y)
    np.testing.assert_allclose(plain.loss_curve_, fast.loss_curve_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(plain.predict_proba(X), fast.predict_proba(X),
                               rtol=1e-10, atol=1e-12)


def test_a_failed_fused_adam_kernel_is_not_retried_within_a_fit(binary_data, monkeypatch):
    from sklnn.engine import solvers

    X, y = binary_data
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise TypeError("simulated signature change")

    collect = solvers.OptimizerStep._collect_state

    def with_broken_kernel(self):
        state = collect(self)
        return None if state is None else (*state[:3], broken)

    reference = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=4, random_state=0)
    reference.fit(X.astype(np.float32), y)
    monkeypatch.setattr(solvers.OptimizerStep, "_collect_state", with_broken_kernel)
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=4, random_state=0)
    clf.fit(X.astype(np.float32), y)
    assert len(calls) == 1 and clf.n_iter_ == 4
    # the fallback to torch.optim gives the same updates as the direct kernel
    np.testing.assert_allclose(clf.loss_curve_, reference.loss_curve_, rtol=1e-5, atol=1e-6)
