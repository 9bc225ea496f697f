"""Models that leave Python: ONNX conversion and ``torch.export``.

``sklnn.to_onnx(model, X_sample)`` converts a fitted sklnn estimator, or a Pipeline or
ColumnTransformer holding sklnn steps, to an ``onnx.ModelProto`` (needs the ``onnx``
extra: onnx, skl2onnx, onnxruntime); :func:`register_onnx_converters` lets
``skl2onnx.to_onnx`` convert them too. ``estimator.inference_module()`` is the
estimator's prediction as one torch module and ``estimator.export(X_sample)`` its
``torch.export.ExportedProgram``. onnx and skl2onnx are imported on first use only.
"""

from sklnn.estimators._export import NotExportableError
from sklnn.export._onnx import register_onnx_converters, to_onnx

__all__ = ["NotExportableError", "register_onnx_converters", "to_onnx"]
