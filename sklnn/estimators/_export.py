"""A fitted estimator's prediction as one torch module, and its ``torch.export``.

Each estimator assembles :class:`~sklnn.modules.inference.Predictor` (or the
forecaster's :class:`~sklnn.modules.inference.WindowForecaster`) from its fitted state;
the assembly is a small ``_predictor`` hook, overridden where an estimator's input or
output handling differs. ONNX conversion (``sklnn.to_onnx``) starts from the same module.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sklnn.engine.objectives import CriterionObjective, Objective
from sklnn.modules.inference import Predictor, Probabilities, Values

EXPORTABLE = (
    "An exported module may use tensor operations only: no Python control flow on the "
    "values of its input (an `if` on a tensor, .item(), .tolist()); write branches with "
    "torch.where, and keep to operators ONNX has (torch.onnx's list).")


class NotExportableError(ValueError):
    """A fitted model, or one of its options, that cannot be exported faithfully."""


def activation_of(objective: Objective) -> str:
    """The :class:`~sklnn.modules.inference.Activation` that ``objective.decode`` applies."""
    if isinstance(objective, CriterionObjective):
        if objective.task in ("values", "labels") and objective.outputs == "probabilities":
            return "flatten"
        if objective.task == "values":
            return "flatten"
        if objective.task == "labels":
            return "logistic"
        return "normalize" if objective.outputs == "probabilities" else "softmax"
    return objective.out_activation


class ExportableModel:
    """``inference_module`` and ``export`` for every network estimator."""

    def inference_module(self) -> nn.Module:
        """The whole of ``predict`` (regressors, forecasters) or ``predict_proba``
        (classifiers) as one ``torch.nn.Module``, on the CPU, in eval mode.

        It maps the rows ``predict`` accepts, flat (images and sequences flattened,
        ``n_features_in_`` values per row), to what ``predict`` or ``predict_proba``
        returns: images and sequences are reshaped inside, outputs decoded (the output
        activation; a forecaster's transforms and their inverse). The network computes in
        float32 (a model trained in float64 then predicts within float32 rounding of
        ``predict``) and the module returns the input's float dtype. A classifier's
        labels follow from the probabilities (``classes_[proba.argmax(1)]``;
        ``proba > 0.5`` for multilabel targets).

        Returns
        -------
        torch.nn.Module

        Raises
        ------
        NotExportableError
            For an option whose prediction cannot be expressed without Python control
            flow on the data (e.g. an ``RNNClassifier`` with ``padding_value``).
        """
        check_is_fitted(self)
        self._check_exportable()
        # float32 always: onnxruntime's CPU kernels for convolutions and recurrent layers
        # are float32 only, and serving needs no more (a model trained in float64
        # predicts within float32 rounding)
        dtype = torch.float32
        network = copy.deepcopy(self.module_).to(device="cpu", dtype=dtype).eval()
        for param in network.parameters():
            param.requires_grad_(False)
        return self._predictor(network, dtype).eval()

    def export(self, X_sample) -> torch.export.ExportedProgram:
        """``torch.export`` of :meth:`inference_module`, with a dynamic batch dimension.

        Parameters
        ----------
        X_sample : array-like of shape (n_samples, n_features_in_)
            Rows as ``predict`` accepts them (flat); their dtype (float32 or float64)
            becomes the program's input dtype.

        Returns
        -------
        torch.export.ExportedProgram
            ``program.module()(torch.as_tensor(X))`` predicts as the estimator.
        """
        module = self.inference_module()
        example = self._example_input(X_sample)
        batch = torch.export.Dim("batch", min=1)
        try:
            with warnings.catch_warnings():
                # torch's RNN layers rebuild their flat weight list in forward; export reads
                # them as written, and the warning asks the layer's authors (torch) to change
                warnings.filterwarnings("ignore", message="The tensor attributes .*_flat_weights")
                return torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
        except Exception as error:
            raise NotExportableError(
                f"torch.export could not export {type(self).__name__}'s network: "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}. "
                f"{EXPORTABLE}") from error

    def _example_input(self, X_sample) -> torch.Tensor:
        """Two rows of ``X_sample`` as the tensor the inference module takes."""
        check_is_fitted(self)
        X = np.asarray(X_sample)
        shape = self._export_input_shape()
        if X.ndim == 0 or X.size == 0 or X[0].size != int(np.prod(shape)):
            raise ValueError(
                f"X_sample must hold rows of {int(np.prod(shape))} values as predict accepts "
                f"them, of shape (n_samples, {', '.join(map(str, shape))}); got an array of "
                f"shape {X.shape}."
            )
        if X.dtype.kind in "iub":
            X = X.astype(np.int64 if self._export_integer_input() else np.float32)
        elif X.dtype != np.float64:
            X = X.astype(np.float32)
        rows = X.reshape(len(X), *shape)[:2]
        # two rows at least: a batch of one would be specialised to one row
        return torch.from_numpy(np.ascontiguousarray(np.concatenate([rows, rows])[:2]))

    # ------------------------------------------------------------ hooks
    def _export_input_shape(self) -> tuple[int, ...]:
        return (self.n_features_in_,)

    def _export_integer_input(self) -> bool:
        return False

    def _check_exportable(self) -> None:
        """Raise NotExportableError for what cannot be exported (nothing by default)."""

    def _predictor(self, network: nn.Module, dtype: torch.dtype) -> nn.Module:
        objective = self._make_objective()
        if hasattr(self, "classes_"):
            if len(self.classes_) == 1:
                layout = "single"
            elif self._label_binarizer.y_type_ == "binary" and self.n_outputs_ == 1:
                layout = "binary"
            else:
                layout = "columns"
            decode: nn.Module = Probabilities(activation_of(objective), layout)
        else:
            decode = Values(activation_of(objective), n_outputs=self.n_outputs_)
        return Predictor(network, decode=decode, dtype=dtype,
                         integer_input=self._export_integer_input())
