"""NeuralNetClassifier and NeuralNetRegressor: a user's own module, loss and optimiser."""

import numpy as np
import pytest
import torch
from conftest import TinyNet
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tolerances import F32_OUTPUT
from torch import nn

from sklnn import NeuralNetClassifier, NeuralNetRegressor
from sklnn.callbacks import EarlyStopping


class SoftmaxNet(nn.Module):
    """skorch's README module: its last layer is a softmax (it returns probabilities)."""

    def __init__(self, num_units=10, nonlin=nn.ReLU()):  # noqa: B008 (as in skorch)
        super().__init__()
        self.dense0 = nn.Linear(20, num_units)
        self.nonlin = nonlin
        self.dropout = nn.Dropout(0.5)
        self.dense1 = nn.Linear(num_units, 10)
        self.output = nn.Linear(10, 2)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, X):
        X = self.nonlin(self.dense0(X))
        X = self.dropout(X)
        X = self.nonlin(self.dense1(X))
        return self.softmax(self.output(X))


@pytest.fixture
def skorch_data():
    X, y = make_classification(1000, 20, n_informative=10, random_state=0)
    return X.astype(np.float32), y


def test_module_criterion_and_optimizer_parameters_reach_the_fitted_objects(multiclass_data):
    X, y = multiclass_data
    clf = NeuralNetClassifier(
        TinyNet, module__hidden=7, criterion=nn.CrossEntropyLoss,
        criterion__label_smoothing=0.1, optimizer=torch.optim.SGD, optimizer__momentum=0.5,
        optimizer__param_groups=[("head.*", {"lr": 0.02})], learning_rate_init=0.05,
        max_iter=3, random_state=0).fit(X, y)
    assert clf.get_params()["module__hidden"] == 7
    assert clf.module_.body[0].out_features == 7 and clf.module_.head.out_features == 3
    assert clf.module_.body[0].in_features == X.shape[1]  # filled in from the data
    assert isinstance(clf.criterion_, nn.CrossEntropyLoss)
    assert clf.criterion_.label_smoothing == 0.1
    groups = clf.optimizer_.param_groups
    assert isinstance(clf.optimizer_, torch.optim.SGD)
    assert [g["lr"] for g in groups] == [0.05, 0.02]
    assert all(g["momentum"] == 0.5 for g in groups)
    head = {id(p) for p in clf.module_.head.parameters()}
    assert {id(p) for p in groups[1]["params"]} == head
    assert clf.history_[0]["lr"] == 0.05  # the first group's rate


def test_the_solver_names_take_further_optimiser_arguments(binary_data):
    X, y = binary_data
    clf = NeuralNetClassifier(TinyNet, optimizer="adam", optimizer__amsgrad=True, max_iter=2,
                              random_state=0).fit(X, y)
    assert isinstance(clf.optimizer_, torch.optim.Adam)
    assert clf.optimizer_.defaults["amsgrad"] is True
    with pytest.raises(ValueError, match="learning_rate_init"):
        clf.set_params(optimizer__lr=0.1).fit(X, y)


def test_a_search_tunes_module_and_callback_parameters(binary_data):
    X, y = binary_data
    clf = NeuralNetClassifier(TinyNet, max_iter=20, learning_rate_init=0.01, random_state=0,
                              callbacks=[("stop", EarlyStopping(monitor="train_loss"))])
    grid = {"module__hidden": [2, 8], "callbacks__stop__patience": [1, 50]}
    search = GridSearchCV(clf, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert best.module_.body[0].out_features == search.best_params_["module__hidden"]
    named = dict(best.callbacks)
    assert named["stop"].patience == search.best_params_["callbacks__stop__patience"]


def test_a_module_instance_is_copied_never_trained_in_place(binary_data):
    X, y = binary_data
    net = TinyNet(X.shape[1], 1, hidden=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    clf = NeuralNetClassifier(net, max_iter=3, random_state=0)
    copy = clone(clf)
    assert copy.module is not net and isinstance(copy.module, TinyNet)
    first = clf.fit(X, y).predict_proba(X)
    second = clf.fit(X, y).predict_proba(X)  # each fit starts from the given weights
    np.testing.assert_array_equal(first, second)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="module__.*instance"):
        clf.set_params(module__hidden=5).fit(X, y)
    assert clf.module_ is not net


class LogitNet(SoftmaxNet):
    """The same network returning logits."""

    def __init__(self, num_units=10):
        super().__init__(num_units)
        self.softmax = nn.Identity()


def test_a_module_ending_with_a_softmax_trains_correctly(skorch_data):
    X, y = skorch_data
    # skorch's README settings: plain SGD at 0.1, batches of 128, 10 epochs
    settings = dict(optimizer="sgd", momentum=0.0, batch_size=128, learning_rate_init=0.1,
                    max_iter=10, random_state=0)
    clf = NeuralNetClassifier(SoftmaxNet, **settings).fit(X, y)
    assert isinstance(clf.criterion_, nn.NLLLoss)  # on the log of its probabilities
    # the log of its probabilities is the log-softmax of the logits: the same training
    logits = NeuralNetClassifier(LogitNet, **settings).fit(X, y)
    assert isinstance(logits.criterion_, nn.CrossEntropyLoss)
    np.testing.assert_allclose(clf.loss_curve_, logits.loss_curve_, rtol=1e-3)
    np.testing.assert_allclose(clf.predict_proba(X), logits.predict_proba(X), atol=1e-3)
    assert clf.score(X, y) > 0.7
    with torch.no_grad():
        direct = clf.module_(torch.from_numpy(X[:5])).numpy()
    np.testing.assert_allclose(clf.predict_proba(X[:5]), direct, **F32_OUTPUT)
    with pytest.raises(ValueError, match="expects logits.*probabilities"):
        clf.set_params(criterion=nn.CrossEntropyLoss).fit(X, y)


@pytest.mark.parametrize("outputs", [1, 2])
def test_binary_classifiers_with_one_or_two_outputs(binary_data, outputs):
    X, y = binary_data
    clf = NeuralNetClassifier(TinyNet, module__n_outputs=outputs, max_iter=50,
                              learning_rate_init=0.01, random_state=0).fit(X, y + 5)
    expected = nn.BCEWithLogitsLoss if outputs == 1 else nn.CrossEntropyLoss
    assert isinstance(clf.criterion_, expected)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X)) <= {5, 6} and clf.score(X, y + 5) > 0.85


def test_multilabel_targets_get_a_sigmoid_per_label():
    X, _ = make_classification(300, 8, random_state=0)
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0].astype(int)
    clf = NeuralNetClassifier(TinyNet, module__hidden=16, max_iter=100,
                              learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert isinstance(clf.criterion_, nn.BCEWithLogitsLoss)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba > 0) & (proba < 1)).all()
    assert (clf.predict(X) == Y).mean() > 0.9


def test_regression_with_several_targets_and_a_custom_loss():
    X, Y = make_regression(200, 5, n_targets=2, noise=0.1, random_state=0)
    Y = Y / Y.std(axis=0)
    reg = NeuralNetRegressor(TinyNet, module__hidden=16, criterion=nn.HuberLoss,
                             criterion__delta=2.0, max_iter=150, learning_rate_init=0.01,
                             random_state=0).fit(X, Y)
    assert reg.criterion_.delta == 2.0 and reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.9
    weighted = clone(reg).set_params(max_iter=2).fit(X, Y, sample_weight=np.ones(200))
    unweighted = clone(reg).set_params(max_iter=2).fit(X, Y)
    np.testing.assert_allclose(weighted.predict(X), unweighted.predict(X), **F32_OUTPUT)


class ConvNet(nn.Module):
    def __init__(self, n_outputs):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten())
        self.head = nn.LazyLinear(n_outputs)  # sized at the start of the fit

    def forward(self, X):
        return self.head(self.features(X))


class BagOfWords(nn.Module):
    def __init__(self, n_outputs, vocabulary=20):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocabulary, 8)
        self.head = nn.Linear(8, n_outputs)

    def forward(self, X):
        return self.head(self.embed(X))


def test_images_and_token_indices_reach_the_module_as_they_are():
    rng = np.random.RandomState(0)
    images = rng.rand(60, 1, 6, 6).astype(np.float32)
    labels = (images[:, 0, :3].mean(axis=(1, 2)) > images[:, 0, 3:].mean(axis=(1, 2)))
    clf = NeuralNetClassifier(ConvNet, max_iter=30, learning_rate_init=0.01,
                              random_state=0).fit(images, labels)
    assert clf.input_shape_ == (1, 6, 6) and clf.module_.head.in_features == 4 * 4 * 4
    assert clf.predict(images).shape == (60,)
    with pytest.raises(ValueError, match=r"samples of shape \(1, 5, 5\).*\(1, 6, 6\)"):
        clf.predict(images[:, :, :5, :5])
    tokens = rng.randint(0, 20, size=(80, 5))
    topic = (tokens < 10).sum(axis=1) > 2
    text = NeuralNetClassifier(BagOfWords, max_iter=40, learning_rate_init=0.05,
                               random_state=0).fit(tokens, topic)
    assert text.score(tokens, topic) > 0.8
    with pytest.raises(ValueError, match="integer inputs"):
        text.predict(tokens + 0.5)


def test_bad_shapes_and_misspelled_parameters_say_what_to_change(binary_data):
    X, y = binary_data

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(5, 3)

        def forward(self, X):
            return self.linear(X)

    clf = NeuralNetClassifier(Fixed, max_iter=1)
    with pytest.raises(ValueError, match=r"Fixed failed on a batch .* shape \(8,\)"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")
    with pytest.raises(ValueError, match="returns 3 output.*2 classes"):
        clf.fit(X[:, :5], y)
    with pytest.raises(TypeError, match=r"unexpected parameters \['hidden'\]"):
        NeuralNetClassifier(TinyNet, hidden=4).fit(X, y)
    with pytest.raises(TypeError, match=r"module__\* parameters are its constructor's"):
        NeuralNetClassifier(TinyNet, module__hiden=4, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="matches no parameter"):
        NeuralNetClassifier(TinyNet, optimizer__param_groups=[("bdy.*", {})],
                            max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="'optimizer' parameter .* instance of 'type'"):
        NeuralNetClassifier(TinyNet, optimizer=torch.optim.SGD([torch.zeros(1)], lr=1),
                            max_iter=1).fit(X, y)


def test_pipelines_partial_fit_and_warm_start(binary_data):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(
        TinyNet, module__hidden=8, max_iter=30, learning_rate_init=0.01, random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.85
    clf = NeuralNetClassifier(TinyNet, random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 1 and len(clf.history_) == 3
    warm = NeuralNetClassifier(TinyNet, max_iter=2, warm_start=True, random_state=0).fit(X, y)
    weights = warm.module_.head.weight.detach().clone()
    warm.fit(X, y)
    assert len(warm.history_) == 4 and not torch.equal(weights, warm.module_.head.weight)


def test_schedules_keep_the_proportions_of_parameter_groups(binary_data):
    X, y = binary_data
    for schedule in ("invscaling", "cosine"):
        clf = NeuralNetClassifier(TinyNet, optimizer="sgd", learning_rate=schedule,
                                  learning_rate_init=0.04, max_iter=3, random_state=0,
                                  optimizer__param_groups=[("head.*", {"lr": 0.01})]).fit(X, y)
        body, head = (g["lr"] for g in clf.optimizer_.param_groups)
        assert body < 0.04 and head == pytest.approx(body / 4)


def test_streamed_datasets_plots_and_summaries_with_a_user_module(binary_data):
    import matplotlib

    matplotlib.use("Agg")
    from torch.utils.data import TensorDataset

    from sklnn.plot import TrainingCurveDisplay

    X, y = binary_data
    settings = dict(module__hidden=5, max_iter=3, random_state=0)
    in_memory = NeuralNetClassifier(TinyNet, **settings).fit(X, y)
    pairs = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    streamed = NeuralNetClassifier(TinyNet, **settings).fit(pairs, None)
    np.testing.assert_allclose(streamed.predict_proba(X), in_memory.predict_proba(X),
                               **F32_OUTPUT)
    text = str(in_memory.summary())
    assert "Linear" in text and str(5 * 8 + 5 + 5 + 1) in text  # the weights, counted
    display = TrainingCurveDisplay.from_estimator(in_memory)
    np.testing.assert_allclose(display.lines_["train_loss"].get_ydata(), in_memory.loss_curve_)


class TwoInputs(nn.Module):
    """A module with two named inputs: measurements and token indices."""

    def __init__(self, n_outputs):
        super().__init__()
        self.numbers = nn.Linear(3, 4)
        self.tokens = nn.EmbeddingBag(10, 4)
        self.head = nn.Linear(8, n_outputs)

    def forward(self, numbers, tokens):
        return self.head(torch.cat([self.numbers(numbers), self.tokens(tokens)], dim=1))


def test_a_dict_of_arrays_reaches_the_module_by_name(tmp_path):
    import sklnn

    rng = np.random.RandomState(0)
    X = {"numbers": rng.rand(120, 3).astype(np.float32), "tokens": rng.randint(0, 10, (120, 4))}
    # both inputs matter: a number, and how many tokens are below 5
    y = X["numbers"][:, 0] - 0.5 + 0.25 * ((X["tokens"] < 5).sum(axis=1) - 2) > 0
    clf = NeuralNetClassifier(TwoInputs, max_iter=100, learning_rate_init=0.02, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.85
    with torch.no_grad():
        direct = clf.module_(numbers=torch.from_numpy(X["numbers"][:5]),
                             tokens=torch.from_numpy(X["tokens"][:5]))
    np.testing.assert_allclose(clf.predict_proba({k: v[:5] for k, v in X.items()})[:, 1],
                               torch.sigmoid(direct).numpy().ravel(), **F32_OUTPUT)
    with pytest.raises(ValueError, match="fitted on a dict of inputs"):
        clf.predict(X["numbers"])
    with pytest.raises(ValueError, match="fitted on"):
        clf.predict({"numbers": X["numbers"]})
    clf.save(tmp_path / "m")
    loaded = sklnn.load(tmp_path / "m", trusted=[TwoInputs])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
