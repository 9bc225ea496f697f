"""Scoring the model with scikit-learn's scorers during training."""

from __future__ import annotations

from sklnn.callbacks._base import Callback


class EpochScoring(Callback):
    """Score the model after every epoch with a scikit-learn scorer, into ``history_``.

    The score is computed on the validation set (``validation_data`` or the
    ``early_stopping`` split) or, with ``on_train=True``, on the training data,
    with the estimator as it is after the epoch (its ``predict``,
    ``predict_proba`` and ``classes_``), and written to each epoch's record
    under ``name``: ``EarlyStopping(monitor=name)``, ``Checkpoint`` and
    ``history_[:, name]`` can use it. Put it before the callbacks that read it.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scorer name ("accuracy", "f1_macro", "neg_log_loss",
        "r2", ...) or a callable ``scorer(estimator, X, y)``.
    on_train : bool, default=False
        Score the training data instead of the validation set.
    name : str or None, default=None
        The record's key; ``scoring`` after ``"train_"`` or ``"valid_"`` when None.
    """

    def __init__(self, scoring, on_train=False, name=None):
        self.scoring = scoring
        self.on_train = on_train
        self.name = name

    def record_keys(self) -> list[str]:
        """The key this callback adds to each epoch record."""
        if self.name is not None:
            return [self.name]
        label = self.scoring if isinstance(self.scoring, str) else "score"
        return [f"{'train' if self.on_train else 'valid'}_{label}"]

    def on_train_begin(self, trainer, **kwargs):
        from sklearn.metrics import check_scoring

        self.scorer_ = check_scoring(trainer.estimator, scoring=self.scoring)
        self.name_ = self.record_keys()[0]

    def on_epoch_end(self, trainer, *, record, **kwargs):
        estimator = trainer.estimator
        data = getattr(estimator, "_scoring_data", {}).get("train" if self.on_train else "valid")
        if data is None:
            raise ValueError(
                "EpochScoring scores the validation set but this fit has none; pass "
                "validation_data=(X_val, y_val) to fit, set early_stopping=True, or use "
                "EpochScoring(..., on_train=True)."
            )
        X, y_encoded, weight = data
        dtype = next(trainer.module.parameters()).dtype
        model = estimator._mid_fit_model(trainer.module, trainer.device, dtype)
        kwargs = {} if weight is None else {"sample_weight": weight}
        trainer.module.eval()
        try:
            record[self.name_] = float(
                self.scorer_(model, X, estimator._decode_targets(y_encoded), **kwargs))
        finally:
            trainer.module.train()
