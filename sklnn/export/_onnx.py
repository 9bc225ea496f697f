"""ONNX conversion through skl2onnx: sklnn's estimators as skl2onnx converters.

Each sklnn estimator class is registered with skl2onnx (``update_registered_converter``):
its converter exports the estimator's :meth:`inference_module` with torch's ONNX
exporter and inlines that graph where skl2onnx puts the estimator, so Pipelines and
ColumnTransformers around it convert with skl2onnx's own converters. Classifiers add
skl2onnx's outputs: ``label`` (the user's labels, strings included: the ``ArgMax`` of
the probabilities gathered from a constant of ``classes_``; ``probabilities > 0.5`` for
multilabel targets) and ``probabilities``. Regressors and forecasters have one output,
``variable``, shaped as ``predict`` returns.

torch's TorchScript-based exporter (``dynamo=False``) is used: it exports sklnn's
networks (linear, convolutional, batch-norm and recurrent layers) in a fraction of a
second and keeps the batch dimension dynamic, where the torch.export-based exporter
took several seconds per network. It writes opsets up to ``TORCH_MAX_OPSET``; a
higher target opset is reached with ONNX's version converter.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklnn.estimators._export import EXPORTABLE, NotExportableError
from sklnn.export._inline import inline

#: the highest opset torch's TorchScript-based exporter writes
TORCH_MAX_OPSET = 20
_REGISTERED: set = set()
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


def _onnx_modules():
    try:
        import onnx
        import onnxruntime  # noqa: F401  (checks each export)
        import skl2onnx
    except ImportError as error:  # pragma: no cover - the extra is missing
        raise ImportError(
            "ONNX export needs onnx and skl2onnx (and onnxruntime to run the models): "
            "pip install 'sklnn[onnx]'."
        ) from error
    return onnx, skl2onnx


def network_graph(estimator, dtype, opset: int):
    """The ONNX model of ``estimator.inference_module()`` at ``opset``: input "X" of
    ``dtype`` rows, output "Y", dynamic batch dimension.

    The TorchScript exporter traces the module on two rows. Its graph is then run with
    onnxruntime on three rows and compared with the module: a trace that kept the
    example's batch size somewhere (a traced shape turned constant) fails that check,
    and the torch.export-based exporter, whose shapes are symbolic, exports it instead.
    """
    onnx, _ = _onnx_modules()
    module = estimator.inference_module()
    shape = estimator._export_input_shape()
    rng = np.random.RandomState(0)
    sample = (rng.randint(0, 2, (2, *shape)) if estimator._export_integer_input()
              else rng.rand(2, *shape).astype(dtype))
    example = estimator._example_input(sample)
    check = torch.cat([example, example[:1]])  # a batch size the trace has not seen
    with torch.no_grad():
        expected = module(check).numpy()
    model = _traced(module, example, estimator, opset)
    if not _agrees(model, check, expected):
        model = _dynamo(module, example, estimator, opset)
        if not _agrees(model, check, expected):
            raise NotExportableError(
                f"The ONNX graph of {type(estimator).__name__}'s network does not predict as "
                f"the network does. {EXPORTABLE}")
    if model.opset_import[0].version < opset:
        model = onnx.version_converter.convert_version(model, opset)
    return model


def _not_exportable(estimator, error) -> NotExportableError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return NotExportableError(
        f"torch could not export {type(estimator).__name__}'s network to ONNX: {reason}. "
        f"{EXPORTABLE}")


def _traced(module, example, estimator, opset):
    """The TorchScript exporter's graph (fast)."""
    onnx, _ = _onnx_modules()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.onnx.export(
                module, (example,), buffer, dynamo=False, input_names=["X"],
                output_names=["Y"], dynamic_axes={"X": {0: "N"}, "Y": {0: "N"}},
                opset_version=min(opset, TORCH_MAX_OPSET))
        # A tensor read as a Python value outside torch's own shape checks (an `if` on
        # the data) is frozen into the graph as it went for the example: an error, never
        # a wrong graph.
        frozen = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)
                  and not os.path.abspath(w.filename).startswith(_TORCH_DIR)]
        if frozen:
            raise NotExportableError(
                f"it reads a tensor's value in Python at {frozen[0].filename}, line "
                f"{frozen[0].lineno} ({frozen[0].message})")
    except Exception as error:
        raise _not_exportable(estimator, error) from error
    return onnx.load_from_string(buffer.getvalue())


def _dynamo(module, example, estimator, opset):
    """The torch.export-based exporter's graph (slower; symbolic shapes)."""
    onnx, _ = _onnx_modules()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (example,), dynamo=True, input_names=["X"], output_names=["Y"],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                opset_version=max(opset, 18), verbose=False)
    except Exception as error:
        raise _not_exportable(estimator, error) from error
    from onnx import inliner

    return inliner.inline_local_functions(program.model_proto)


def _agrees(model, X: torch.Tensor, expected: np.ndarray) -> bool:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"X": X.numpy()})
    except Exception:
        return False
    return out.shape == expected.shape and np.allclose(out, expected, rtol=1e-4, atol=1e-5,
                                                       equal_nan=True)


def _label_kind(model) -> str:
    if len(model.classes_) > 1 and model._label_binarizer.y_type_ == "multilabel-indicator":
        return "multilabel"
    return "argmax"


def _label_type(model, types):
    classes = np.asarray(model.classes_)
    if classes.dtype.kind in "iub":
        return types.Int64TensorType
    if classes.dtype.kind == "f":
        return types.DoubleTensorType
    return types.StringTensorType


def _input_dtype(variable, types):
    if isinstance(variable.type, types.DoubleTensorType):
        return np.float64
    if isinstance(variable.type, types.Int64TensorType):
        return np.int64
    return np.float32


def _shape_calculator(operator) -> None:
    from skl2onnx.common import data_types as types

    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    width = int(np.prod(model._export_input_shape()))
    given = operator.inputs[0].type.shape
    if len(given) >= 2 and isinstance(given[1], int) and int(np.prod(given[1:])) != width:
        raise ValueError(
            f"{type(model).__name__} takes rows of {width} values (n_features_in_); the "
            f"ONNX input it receives has shape {given}.")
    dtype = _input_dtype(operator.inputs[0], types)
    values = types.DoubleTensorType if dtype == np.float64 else types.FloatTensorType
    if not hasattr(model, "classes_"):
        # what the inference module returns (predict's values, forecasts in float64, an
        # autoencoder's codes), read off two rows
        sample = np.zeros((2, *model._export_input_shape()), dtype=dtype)
        with torch.no_grad():
            out = model.inference_module()(model._example_input(sample))
        if out.dtype == torch.float64:
            values = types.DoubleTensorType
        operator.outputs[0].type = values([n, *out.shape[1:]])
        return
    n_classes = len(model.classes_)
    if _label_kind(model) == "multilabel":
        operator.outputs[0].type = types.Int64TensorType([n, n_classes])
    else:
        operator.outputs[0].type = _label_type(model, types)([n])
    operator.outputs[1].type = values([n, n_classes])


def _converter(scope, operator, container) -> None:
    from onnx import TensorProto
    from skl2onnx.common import data_types as types

    model = operator.raw_operator
    dtype = _input_dtype(operator.inputs[0], types)
    graph = network_graph(model, dtype, container.target_opset).graph
    source = operator.inputs[0].full_name
    if not hasattr(model, "classes_"):
        inline(graph, scope, container, source, operator.outputs[0].full_name)
        return
    proba = operator.outputs[1].full_name
    inline(graph, scope, container, source, proba)
    label = operator.outputs[0].full_name
    if _label_kind(model) == "multilabel":
        half = scope.get_unique_variable_name("sklnn_half")
        kind = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
        container.add_initializer(half, kind, [], 0.5)
        above = scope.get_unique_variable_name("sklnn_above")
        container.add_node("Greater", [proba, half], [above],
                           name=scope.get_unique_operator_name("SklnnGreater"))
        container.add_node("Cast", [above], [label], to=TensorProto.INT64,
                           name=scope.get_unique_operator_name("SklnnCast"))
        return
    index = scope.get_unique_variable_name("sklnn_index")
    container.add_node("ArgMax", [proba], [index], axis=1, keepdims=0,
                       name=scope.get_unique_operator_name("SklnnArgMax"))
    classes = np.asarray(model.classes_)
    label_type = _label_type(model, types)
    if label_type is types.Int64TensorType:
        kind, content = TensorProto.INT64, classes.astype(np.int64)
    elif label_type is types.DoubleTensorType:
        kind, content = TensorProto.DOUBLE, classes.astype(np.float64)
    else:
        kind, content = TensorProto.STRING, [str(c).encode("utf-8") for c in classes]
    constant = scope.get_unique_variable_name("sklnn_classes")
    container.add_initializer(constant, kind, [len(classes)], content)
    container.add_node("Gather", [constant, index], [label], axis=0,
                       name=scope.get_unique_operator_name("SklnnGather"))


def register_onnx_converters() -> None:
    """Register sklnn's estimators with skl2onnx, so that ``skl2onnx.to_onnx`` converts
    them, alone or inside Pipelines and ColumnTransformers. Called by
    :func:`sklnn.to_onnx`; call it once before using ``skl2onnx.to_onnx`` directly."""
    _, skl2onnx = _onnx_modules()
    from sklnn.estimators._base import NeuralNetBase
    from sklnn.estimators._export import ExportableModel

    classes, pending = [], [ExportableModel]
    while pending:  # every subclass, a user's own included (skl2onnx matches exact types)
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls not in (ExportableModel, NeuralNetBase, *_REGISTERED):
            classes.append(cls)
    for cls in classes:
        # skl2onnx's ZipMap asks for "nocl" (labels replaced by their indices): not offered
        options = ({"zipmap": [True, False, "columns"], "nocl": [False],
                    "output_class_labels": [False]}
                   if hasattr(cls, "predict_proba") else None)
        skl2onnx.update_registered_converter(
            cls, f"Sklnn{cls.__module__}.{cls.__qualname__}", _shape_calculator, _converter,
            options=options)
        _REGISTERED.add(cls)


def _sklnn_classifiers(model) -> list:
    """The sklnn classifiers in ``model`` (itself, or steps of pipelines and column
    transformers, at any depth)."""
    from sklnn.estimators._base import NeuralNetBase

    found = []
    if isinstance(model, NeuralNetBase):
        return [model] if hasattr(model, "classes_") else []
    if isinstance(model, BaseEstimator):
        for value in model.get_params(deep=True).values():
            if isinstance(value, NeuralNetBase) and hasattr(value, "classes_"):
                found.append(value)
    return found


def to_onnx(model, X_sample, *, target_opset=None, options=None):
    """Convert a fitted sklnn estimator, or a Pipeline or ColumnTransformer holding
    sklnn steps, to an ONNX model.

    Parameters
    ----------
    model : fitted estimator
        An sklnn network estimator, or a scikit-learn composite (Pipeline,
        ColumnTransformer...) whose steps skl2onnx or sklnn can convert.
    X_sample : array-like
        A few rows as ``predict`` accepts them (flat rows for images and sequences).
        Their dtype, float32 or float64 (int64 for a module reading token indices),
        becomes the input's; the number of rows does not matter: the batch dimension
        is dynamic.
    target_opset : int, default=None
        The ONNX opset of the main domain. None: the highest that torch's exporter
        writes (20), which onnxruntime runs. Higher opsets go through ONNX's version
        converter (onnxruntime 1.32 lacks some kernels of opset 22, e.g. ``Conv``).
    options : dict, default=None
        skl2onnx's converter options for the other steps, by ``id(step)``, e.g.
        ``{id(scaler): {"div": "div"}}`` (a ``StandardScaler`` as ``Sub`` and ``Div``,
        which onnxruntime runs faster than the ``Scaler`` operator).

    Returns
    -------
    onnx.ModelProto
        Input ``X``. A classifier has the outputs ``label`` (``predict``) and
        ``probabilities`` (``predict_proba``, a tensor, not skl2onnx's ZipMap);
        a regressor or forecaster one output, ``variable`` (``predict``).

    Raises
    ------
    NotExportableError
        For a model or option that cannot be exported faithfully; the message says
        what to change.
    """
    _, skl2onnx = _onnx_modules()
    register_onnx_converters()
    from sklnn.estimators._export import ExportableModel

    if target_opset is None:
        target_opset = min(TORCH_MAX_OPSET, skl2onnx.get_latest_tested_opset_version())
    options = {**(options or {}),
               **{id(c): {"zipmap": False} for c in _sklnn_classifiers(model)}}
    if isinstance(model, ExportableModel):
        from skl2onnx.common import data_types as types

        check_is_fitted(model)

        X = np.asarray(X_sample)
        kind = (types.DoubleTensorType if X.dtype == np.float64 else
                types.Int64TensorType if X.dtype.kind in "iu" and model._export_integer_input()
                else types.FloatTensorType)
        initial = [("X", kind([None, *model._export_input_shape()]))]
        return skl2onnx.to_onnx(model, initial_types=initial, target_opset=target_opset,
                                options=options or None)
    X = X_sample
    if isinstance(X, np.ndarray) and X.dtype.kind in "iu":
        X = X.astype(np.float32)
    return skl2onnx.to_onnx(model, X, target_opset=target_opset, options=options or None)
