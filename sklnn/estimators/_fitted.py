"""What a fitted network offers every estimator: batched forward passes, the summary,
saving, and pickling that carries the module to the CPU and back to its device."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sklnn._warnings import attributed_to_user
from sklnn.engine import fitting
from sklnn.engine.devices import autocast_dtype, place_module, saved_device, to_cpu
from sklnn.engine.inference import predict_batch_rows, predict_outputs
from sklnn.persistence import save as save_estimator
from sklnn.summary import Summary, summarize
from sklnn.validation import check_representable


class FittedNetwork:
    """Prediction and the fitted model's utilities; mixed into ``NeuralNetBase``."""

    # ------------------------------------------------------------ prediction
    def _forward(self, X) -> np.ndarray:
        """Validated input to decoded outputs (probabilities or values), as numpy."""
        check_is_fitted(self)
        if self._streams(X):
            return self._streamed_outputs(X, self._forward_rows)
        with attributed_to_user():
            X = self._validate_X(X, reset=False)
        return self._forward_rows(X)

    def _forward_rows(self, X) -> np.ndarray:
        """Validated rows to decoded outputs."""
        check_representable(X, self._compute_dtype)
        objective = self._make_objective()
        batch_rows = self._predict_batch_rows()
        flops = min(X.shape[0], batch_rows) * self._predict_flops_per_sample(self.module_)
        with fitting.prediction_scope(flops):
            out = predict_outputs(
                self.module_, X, device=self.device_, dtype=self._compute_dtype,
                batch_rows=batch_rows, decode=objective.decode,
                autocast=self._inference_autocast(),
            )
        return out.astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64,
                          copy=False)

    def _inference_autocast(self) -> torch.dtype | None:
        """Autocast for prediction; float16 falls back to full precision off CUDA (a model
        trained on a GPU and loaded on a CPU-only machine still predicts)."""
        if self.precision == "float16" and self.device_.type != "cuda":
            return None
        return autocast_dtype(self.precision, self.device_)

    def _predict_batch_rows(self) -> int:
        return predict_batch_rows(self._largest_activation(), self.device_)

    def _largest_activation(self) -> int:
        """Values per row of the widest tensor a forward pass makes (input included)."""
        widths = [self.n_features_in_]
        for layer in self.module_.modules():
            if isinstance(layer, torch.nn.Linear):
                widths += [layer.in_features, layer.out_features]
        return max(widths)

    # ------------------------------------------------------------- utilities
    def summary(self, print_fn=None) -> Summary:
        """Each layer with its output shape and parameter count, and the total.

        Returns a :class:`~sklnn.summary.Summary` whose text is the table, so a notebook
        or REPL shows it once; in a script, ``print(clf.summary())``. ``print_fn``, when
        given, also receives the table (e.g. ``print_fn=print`` or a logger's method).
        """
        check_is_fitted(self)
        result = summarize(self.module_, self._input_shape(), device=self.device_,
                           dtype=self._compute_dtype)
        if print_fn is not None:
            print_fn(str(result))
        return result

    def save(self, path) -> None:
        """Write the fitted estimator to ``path`` without pickle; read it with ``sklnn.load``.

        The file is safe to load from an untrusted source (see ``sklnn.persistence``).
        """
        save_estimator(self, path)

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = copy.deepcopy(self.module_).to("cpu")
            state["_optimizer_state"] = to_cpu(state.get("_optimizer_state"))
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        if "module_" in state:
            device = saved_device(state["device_"])
            state["device_"] = device
            state["module_"] = place_module(state["module_"], device)
        self.__dict__.update(state)
