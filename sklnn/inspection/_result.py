"""What :func:`~sklnn.inspection.dataset_shift` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, repr=False, eq=False)  # numpy fields: no elementwise ==
class ShiftResult:
    """The outcome of a classifier two-sample test (see :func:`dataset_shift`).

    Attributes
    ----------
    auc : float
        Cross-validated ROC AUC of telling ``X_new`` from ``X_reference``: the mean of
        the folds' AUCs on their held-out rows. 0.5 when the samples cannot be told
        apart; 1.0 when they never overlap.
    p_value : float
        P-value of "both samples come from one distribution": ``e`` times the
        geometric mean of ``fold_p_values``, capped at 1 (valid however the folds
        depend on each other).
    fold_aucs : ndarray of shape (n_folds,)
        Each fold's held-out AUC.
    fold_p_values : ndarray of shape (n_folds,)
        Each fold's exact permutation p-value,
        ``(1 + #{null AUC >= fold AUC}) / (1 + n_permutations)``.
    null_aucs : ndarray of shape (n_permutations, n_folds)
        Each fold's permutation distribution.
    scores_reference, scores_new : ndarray of shape (n_reference,), (n_new,)
        Each row's out-of-fold probability of belonging to ``X_new``, predicted by a
        model that did not train on it.
    shifted_rows : ndarray of int
        Indices into ``X_new`` of its rows most unlike the reference (the highest
        ``scores_new``), most unlike first.
    feature_names : ndarray of str
        The columns of the data (a DataFrame's columns, else ``"x0"``, ``"x1"``, ...).
    feature_importances : ndarray of shape (n_features,) or None
        Permutation importance of each feature: the drop in held-out AUC when it is
        shuffled (None when not computed).
    feature_importances_std : ndarray of shape (n_features,) or None
        Its standard deviation over the repeats.
    model : fitted classifier
        The first fold's model, on which the importances were measured.
    """

    auc: float
    p_value: float
    fold_aucs: np.ndarray
    fold_p_values: np.ndarray
    null_aucs: np.ndarray
    scores_reference: np.ndarray
    scores_new: np.ndarray
    shifted_rows: np.ndarray
    feature_names: np.ndarray
    feature_importances: np.ndarray | None = None
    feature_importances_std: np.ndarray | None = None
    model: object = field(default=None, compare=False)

    @property
    def shifted_scores(self) -> np.ndarray:
        """``scores_new`` of :attr:`shifted_rows`, in the same order."""
        return self.scores_new[self.shifted_rows]

    def shift_detected(self, alpha: float = 0.05) -> bool:
        """Whether the test rejects "no shift" at level ``alpha`` (``p_value <= alpha``)."""
        return bool(self.p_value <= alpha)

    def top_features(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` features that separate the samples most, as ``(name, importance)``,
        most important first (an empty list when importances were not computed)."""
        if self.feature_importances is None:
            return []
        order = np.argsort(-self.feature_importances, kind="stable")[:n]
        return [(str(self.feature_names[i]), float(self.feature_importances[i]))
                for i in order]

    def __repr__(self) -> str:
        top = ", ".join(name for name, _ in self.top_features(3))
        return (f"ShiftResult(auc={self.auc:.3f}, p_value={self.p_value:.3g}, "
                f"n_reference={len(self.scores_reference)}, n_new={len(self.scores_new)}"
                + (f", top_features=[{top}]" if top else "") + ")")
