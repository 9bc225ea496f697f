"""Every fitted attribute's documentation, written once.

An estimator's docstring holds the marker ``<<attributes: name name ...>>``
and gets these entries in that order (see ``NeuralNetBase.__init_subclass__``).
"""

from __future__ import annotations

import re

ATTRIBUTES = {
    "classes_": ("ndarray of shape (n_classes,)", "Class labels, sorted."),
    "input_shape_": ("tuple of int", "``(C, H, W)`` of the images the network sees."),
    "sequence_shape_": ("tuple of int",
                        "``(T, F)``: steps and features per sequence seen in ``fit``."),
    "horizon_": ("int", "Values forecast per window (columns of ``y``)."),
    "n_features_in_": ("int", "Length of a validated input row: the number of features, "
                       "``C * H * W`` for images, ``T * F`` for sequences."),
    "feature_names_in_": ("ndarray of shape (`n_features_in_`,)",
                          "Defined when X has string column names."),
    "loss_": ("float", "Training loss (including the L2 term) of the last epoch."),
    "best_loss_": ("float or None", "Smallest training loss; None with early stopping."),
    "loss_curve_": ("list of float", 'Training loss per epoch (per iteration for "lbfgs").'),
    "validation_scores_": ("list of float or None",
                           "Validation score per epoch with early stopping."),
    "best_validation_score_": ("float or None", "Best validation score with early stopping."),
    "t_": ("int", "Training samples seen."),
    "coefs_": ("list of ndarray", "Weight matrices, ``coefs_[i]`` of shape "
               "(n_units_i, n_units_i+1)."),
    "intercepts_": ("list of ndarray", "Bias vectors, ``intercepts_[i]`` of shape "
                    "(n_units_i+1,)."),
    "n_iter_": ("int", "Epochs run (iterations for \"lbfgs\")."),
    "n_layers_": ("int", "Weighted layers plus the input layer, as scikit-learn counts "
                  "layers (convolutions wider than 1x1 and dense layers for images, "
                  "``num_layers + 2`` for recurrent networks)."),
    "n_outputs_": ("int", "Outputs of the network's head."),
    "out_activation_": ("str", "Output activation the loss implies."),
    "module_": ("torch.nn.Module", "The trained network; it returns raw outputs (logits)."),
    "device_": ("torch.device", "Where the network lives."),
    "n_threads_": ("int", "Intra-op threads the fit trained with; at most its worker's share "
                   "of the cores in a parallel search."),
    "history_": ("History (a list of dict)",
                 "Per epoch: epoch, train_loss, valid_loss, valid_score, lr, duration."),
}

#: the attributes every estimator has after fit, in documentation order
COMMON = ("n_features_in_", "feature_names_in_", "loss_", "best_loss_", "loss_curve_",
          "validation_scores_", "best_validation_score_", "t_", "n_iter_", "n_layers_",
          "n_outputs_", "out_activation_", "n_threads_", "module_", "device_", "history_")

_MARKER = re.compile(r"^ *<<attributes:([^>]*)>>$", re.MULTILINE)


def fill_attributes(doc: str) -> str:
    """Replace the attributes marker with the named entries (``COMMON`` expands)."""

    def entries(match) -> str:
        names = []
        for name in match.group(1).split():
            names.extend(COMMON if name == "COMMON" else (name,))
        return "\n".join(f"    {n} : {ATTRIBUTES[n][0]}\n        {ATTRIBUTES[n][1]}"
                         for n in names)

    return _MARKER.sub(entries, doc)
