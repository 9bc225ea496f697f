"""ONNX export: onnxruntime on each estimator's export against predict and predict_proba."""

import warnings

import numpy as np
import pytest
import torch
from conftest import NETWORK_CLASSES, TinyNet, small, small_data
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from tolerances import F32_OUTPUT

import sklnn
from sklnn.export import NotExportableError, register_onnx_converters

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(proto, X):
    sess = session(proto)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: X})))


def fitted(cls, n_samples=40, **params):
    est = small(cls, **params)
    X, y = small_data(est, n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge
        return est.fit(X, y)


def assert_same_labels(labels, expected, proba):
    """Labels equal wherever the model is not within float32 rounding of a tie."""
    top = np.sort(proba, axis=1)
    decided = (top[:, -1] - top[:, -2] > 1e-5) if proba.shape[1] > 1 else np.ones(len(proba),
                                                                                 bool)
    assert decided.mean() > 0.95
    np.testing.assert_array_equal(np.asarray(labels)[decided], np.asarray(expected)[decided])


def expected_output(est, X):
    """What the inference module returns: predict_proba, transform (the autoencoders'
    codes) or predict."""
    if is_classifier(est):
        return est.predict_proba(X)
    return est.transform(X) if not hasattr(est, "predict") else est.predict(X)


def assert_matches(est, outputs, X):
    if is_classifier(est):
        proba = est.predict_proba(X)
        assert outputs["probabilities"].shape == proba.shape
        np.testing.assert_allclose(outputs["probabilities"], proba, **F32_OUTPUT)
        assert_same_labels(outputs["label"], est.predict(X), proba)
    else:
        predicted = expected_output(est, X)
        assert outputs["variable"].shape == predicted.shape
        np.testing.assert_allclose(outputs["variable"], predicted, **F32_OUTPUT)


@pytest.mark.parametrize("cls", NETWORK_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_estimator_matches_predict(cls, dtype):
    est = fitted(cls)
    proto = sklnn.to_onnx(est, np.zeros((1, 16), dtype=dtype))
    X = np.random.RandomState(1).rand(1000, 16).astype(dtype)
    for rows in (X[:1], X):  # one row and a thousand, through the same dynamic batch
        assert_matches(est, run(proto, rows), rows)
    assert proto.graph.input[0].type.tensor_type.elem_type == (
        onnx.TensorProto.DOUBLE if dtype == np.float64 else onnx.TensorProto.FLOAT)


@pytest.mark.parametrize("labels", [["no", "yes"], ["cat", "dog", "eel"], [3, 7, 11]])
def test_user_labels(labels):
    X = np.random.RandomState(0).rand(60, 5).astype(np.float32)
    y = np.asarray(labels)[np.arange(60) % len(labels)]
    est = small(sklnn.MLPClassifierGPU).fit(X, y)
    outputs = run(sklnn.to_onnx(est, X), X)
    assert outputs["label"].dtype == (object if isinstance(labels[0], str) else np.int64)
    assert_matches(est, outputs, X)


def test_multilabel():
    X = np.random.RandomState(0).rand(60, 5).astype(np.float32)
    Y = (np.random.RandomState(1).rand(60, 3) > 0.5).astype(int)
    est = small(sklnn.MLPClassifierGPU).fit(X, Y)
    outputs = run(sklnn.to_onnx(est, X), X)
    assert outputs["label"].shape == (60, 3)
    proba = est.predict_proba(X)
    decided = (np.abs(proba - 0.5) > 1e-5).all(axis=1)
    np.testing.assert_array_equal(outputs["label"][decided], est.predict(X)[decided])
    np.testing.assert_allclose(outputs["probabilities"], proba, **F32_OUTPUT)


def series_windows(n_windows=80, steps=12, features=1, horizon=1):
    t = np.arange(n_windows + steps + horizon + 5)
    series = np.stack([10 + 0.05 * t + np.sin(2 * np.pi * t / 4) + 0.3 * np.cos(t * (f + 1))
                       for f in range(features)], axis=1)
    X = np.stack([series[i:i + steps] for i in range(n_windows)])
    y = np.stack([series[i + steps:i + steps + horizon, 0] for i in range(n_windows)])
    X = X[:, :, 0] if features == 1 else X
    return X, (y[:, 0] if horizon == 1 else y)


@pytest.mark.parametrize("params, features, horizon", [
    (dict(season_length=4), 1, 3),  # every transform on, a seasonal base
    (dict(season_length=4, loss="quantile", target_feature=1), 2, 2),
    (dict(training_target="sequence", burn_in=2), 1, 2),
    (dict(differencing=0, instance_norm=False, scale=False), 2, 1),
])
def test_forecaster(params, features, horizon):
    X, y = series_windows(features=features, horizon=horizon)
    est = small(sklnn.RNNForecaster, **params).fit(X, y)
    flat = X.reshape(len(X), -1)
    for dtype in (np.float32, np.float64) if "season_length" in params else (np.float32,):
        rows = flat.astype(dtype)
        proto = sklnn.to_onnx(est, rows)
        outputs = run(proto, rows)
        assert outputs["variable"].dtype == np.float64  # as predict returns forecasts
        assert_matches(est, outputs, rows)
        assert_matches(est, run(proto, rows[:1]), rows[:1])


def test_forecaster_falling_back_to_seasonal_naive_exports_the_fallback():
    X, y = series_windows(n_windows=120, horizon=2)
    # a huge step for one epoch: the network loses to seasonal naive on the held-out windows
    est = small(sklnn.RNNForecaster, season_length=4, learning_rate_init=5.0,
                max_iter=1).fit(X, y)
    assert est.uses_network_ is False
    rows = X.astype(np.float32)
    assert_matches(est, run(sklnn.to_onnx(est, rows), rows), rows)
    program = est.export(rows)
    np.testing.assert_allclose(program.module()(torch.from_numpy(rows)).numpy(),
                               est.predict(rows), rtol=1e-6)


@pytest.mark.parametrize("params", [
    dict(cell="gru", readout="flatten"),
    dict(cell="rnn", readout="last", bidirectional=False, num_layers=2),
])
def test_rnn_classifier_options(params):
    est = fitted(sklnn.RNNClassifier, **params)
    X = np.random.RandomState(1).rand(50, 16).astype(np.float32)
    assert_matches(est, run(sklnn.to_onnx(est, X), X), X)


@pytest.mark.parametrize("padding", [np.nan, -1.0])
def test_sequence_classifier_padding_masks(padding):
    est = small(sklnn.CNNSequenceClassifier, padding_value=padding)
    X, y = small_data(est, 40)
    X[:15, 10:] = padding  # trailing padding of different lengths
    X[:5, 6:] = padding
    est.fit(X, y)
    rows = X.astype(np.float32)
    assert_matches(est, run(sklnn.to_onnx(est, rows), rows), rows)


def test_images_batch_norm_and_channels_last():
    X = np.random.RandomState(0).rand(40, 4 * 4 * 3).astype(np.float32)
    y = np.arange(40) % 3
    cnn = small(sklnn.CNNImageClassifier, batch_norm=True, input_shape=(4, 4, 3)).fit(X, y)
    resnet = small(sklnn.ResNetClassifier, input_shape=(4, 4, 3)).fit(X, y)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in resnet.module_.modules())
    for est in (cnn, resnet):
        # eval mode: the running statistics, so one row predicts as within a batch
        assert_matches(est, run(sklnn.to_onnx(est, X), X[:1]), X[:1])
        assert_matches(est, run(sklnn.to_onnx(est, X), X), X)


def pipelines(X):
    scaled = Pipeline([("scale", StandardScaler()), ("net", small(sklnn.MLPClassifierGPU))])
    columns = Pipeline([
        ("columns", ColumnTransformer([("a", StandardScaler(), [0, 1, 2]),
                                       ("b", MinMaxScaler(), [3, 4])])),
        ("net", small(sklnn.MLPRegressorGPU)),
    ])
    return scaled, columns


@pytest.mark.parametrize("through", ["sklnn", "skl2onnx"])
def test_pipelines(through):
    X = (np.random.RandomState(0).rand(80, 5) * 10).astype(np.float32)
    y = np.array(["a", "b"])[np.arange(80) % 2]
    for pipe in pipelines(X):
        target = y if is_classifier(pipe) else X[:, 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(X, target)
        if through == "sklnn":
            proto = sklnn.to_onnx(pipe, X[:2], options={id(pipe[0]): {"div": "div"}}
                                  if isinstance(pipe[0], StandardScaler) else None)
        else:
            register_onnx_converters()
            options = {id(pipe[-1]): {"zipmap": False}} if is_classifier(pipe) else None
            proto = skl2onnx.to_onnx(pipe, X[:2], target_opset=20, options=options)
        outputs = run(proto, X)
        if is_classifier(pipe):
            np.testing.assert_allclose(outputs["probabilities"], pipe.predict_proba(X),
                                       **F32_OUTPUT)
            assert_same_labels(outputs["label"], pipe.predict(X), pipe.predict_proba(X))
        else:
            np.testing.assert_allclose(outputs["variable"], pipe.predict(X), **F32_OUTPUT)


def test_skl2onnx_default_zipmap_and_opset():
    """skl2onnx's own defaults: ZipMap probabilities, its latest opset (converted)."""
    X = np.random.RandomState(0).rand(30, 4).astype(np.float32)
    est = small(sklnn.MLPClassifierGPU).fit(X, np.arange(30) % 3)
    register_onnx_converters()
    proto = skl2onnx.to_onnx(est, X[:2])
    outputs = run(proto, X)
    proba = est.predict_proba(X)
    zipped = np.array([[row[c] for c in est.classes_] for row in outputs["output_probability"]])
    np.testing.assert_allclose(zipped, proba, **F32_OUTPUT)


@pytest.mark.parametrize("cls", NETWORK_CLASSES, ids=lambda c: c.__name__)
def test_torch_export_round_trip(cls, tmp_path):
    est = fitted(cls)
    X = np.random.RandomState(1).rand(7, 16)
    program = est.export(X)
    path = tmp_path / f"{cls.__name__}.pt2"
    torch.export.save(program, path)
    module = torch.export.load(path).module()
    for rows in (X[:1], X):  # a dynamic batch dimension
        out = module(torch.from_numpy(rows)).numpy()
        np.testing.assert_allclose(out, expected_output(est, rows), **F32_OUTPUT)


def test_rnn_classifier_with_padding_is_refused():
    est = fitted(sklnn.RNNClassifier, padding_value=0.0)
    for export in (est.inference_module, lambda: sklnn.to_onnx(est, np.zeros((1, 16))),
                   lambda: est.export(np.zeros((1, 16)))):
        with pytest.raises(NotExportableError, match="padding_value=None"):
            export()


class Branchy(TinyNet):
    def forward(self, X):
        out = super().forward(X)
        return out if X.sum() > 0 else -out  # Python control flow on the data


def test_data_dependent_module_is_refused():
    est = fitted(sklnn.NeuralNetRegressor, module=Branchy)
    with pytest.raises(NotExportableError, match="tensor's value in Python"):
        sklnn.to_onnx(est, np.zeros((1, 16)))
    with pytest.raises(NotExportableError, match="torch.where"):
        est.export(np.zeros((2, 16)))


def test_sample_of_the_wrong_width():
    est = fitted(sklnn.MLPRegressorGPU)
    with pytest.raises(ValueError, match="rows of 16 values"):
        est.export(np.zeros((2, 5)))


def test_user_module_reading_token_indices():
    class Tokens(torch.nn.Module):
        def __init__(self, n_features_in, n_outputs):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 3)
            self.head = torch.nn.Linear(3 * n_features_in, n_outputs)

        def forward(self, X):
            return self.head(self.embed(X).flatten(1))

    X = np.random.RandomState(0).randint(0, 10, size=(40, 4))
    est = small(sklnn.NeuralNetClassifier, module=Tokens).fit(X, np.arange(40) % 2)
    outputs = run(sklnn.to_onnx(est, X), X.astype(np.int64))
    assert_matches(est, outputs, X)


def test_dict_inputs_export_as_packed_rows():
    class TwoInputs(torch.nn.Module):
        def __init__(self, n_features_in, n_outputs):
            super().__init__()
            self.a = torch.nn.Linear(3, n_outputs)
            self.b = torch.nn.Linear(2, n_outputs)

        def forward(self, numbers, more):
            return self.a(numbers) + self.b(more)

    rng = np.random.RandomState(0)
    X = {"numbers": rng.rand(30, 3).astype(np.float32), "more": rng.rand(30, 2).astype(np.float32)}
    est = small(sklnn.NeuralNetRegressor, module=TwoInputs).fit(X, rng.rand(30))
    packed = np.concatenate([X["numbers"], X["more"]], axis=1)  # in the fitted order
    np.testing.assert_allclose(run(sklnn.to_onnx(est, packed), packed)["variable"],
                               est.predict(X), **F32_OUTPUT)


def test_unfitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        sklnn.to_onnx(sklnn.MLPClassifierGPU(), np.zeros((1, 4)))


@pytest.mark.parametrize("features, horizon", [(1, 6), (2, 1)])
def test_seasonal_naive(features, horizon):
    X, y = series_windows(features=features, horizon=horizon)
    model = sklnn.SeasonalNaive(season_length=4, target_feature=features - 1).fit(X, y)
    flat = X.reshape(len(X), -1).astype(np.float32)
    outputs = run(sklnn.to_onnx(model, flat), flat)
    np.testing.assert_array_equal(outputs["variable"], model.predict(flat))
    program = model.export(flat)
    np.testing.assert_array_equal(program.module()(torch.from_numpy(flat)).numpy(),
                                  model.predict(flat))


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_multi_output_regressor(loss):
    X = np.random.RandomState(0).rand(40, 5).astype(np.float32)
    Y = np.abs(X[:, :3] * 2.0)
    est = small(sklnn.MLPRegressorGPU, loss=loss).fit(X, Y)
    outputs = run(sklnn.to_onnx(est, X), X)
    assert outputs["variable"].shape == (40, 3)
    assert_matches(est, outputs, X)


def test_import_sklnn_leaves_onnx_alone():
    import subprocess
    import sys

    code = ("import sys, sklnn, sklnn.export; "
            "print(sorted(m for m in ('onnx', 'skl2onnx', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
