"""A classifier two-sample test for dataset shift: can a model tell the two samples apart?"""

from __future__ import annotations

import numbers
from contextlib import nullcontext

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from sklnn.inspection._result import ShiftResult

# rows x permutations held in memory at once while drawing the permutation distribution
_PERMUTATION_CHUNK = 4_000_000
_IMPORTANCE_REPEATS = 5


def dataset_shift(X_reference, X_new, *, classifier=None, cv=5, n_permutations=1000,
                  max_importance_rows=2000, random_state=None) -> ShiftResult:
    """Test whether ``X_new`` comes from the distribution of ``X_reference``.

    A classifier two-sample test: the rows are labelled by origin (0 for
    ``X_reference``, 1 for ``X_new``), a classifier learns to tell them apart in
    ``cv``-fold cross-validation, and each row is scored by a model that did not
    train on it. If both samples come from one distribution (no dataset shift,
    :math:`p_{train}(X) = p_{test}(X)`), no model can do better than chance on
    held-out rows: the ROC AUC stays near 0.5. The result also names the rows of
    ``X_new`` most unlike the reference and the features that separate the
    samples most.

    Parameters
    ----------
    X_reference : array-like or DataFrame of shape (n_reference, n_features)
        The data a model was trained on (or any sample taken as the reference).
    X_new : array-like or DataFrame of shape (n_new, n_features)
        The data to compare with it; DataFrames must have the same columns.
    classifier : estimator with ``predict_proba``, default=None
        The model that tells the samples apart, cloned for each fold. None uses
        scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
        with early stopping (fast on large tables, no scaling needed, missing values
        allowed), run on the cores other processes leave idle. A network works too, e.g.
        ``make_pipeline(StandardScaler(), MLPClassifierGPU())``.
    cv : int or cross-validation splitter, default=5
        Number of stratified, shuffled folds, or a splitter whose test folds cover
        every row exactly once.
    n_permutations : int, default=1000
        Size of each fold's permutation distribution; the smallest p-value is
        ``e / (n_permutations + 1)``.
    max_importance_rows : int, default=2000
        Held-out rows of the first fold on which the feature importances are
        measured; 0 skips them (the slowest part on wide data).
    random_state : int, RandomState or None, default=None
        Seeds the folds, the default classifier, the permutations and the
        importances.

    Returns
    -------
    result : ShiftResult
        ``auc``, ``p_value``, the out-of-fold scores, ``shifted_rows`` (indices
        into ``X_new``, most unlike the reference first) and the features'
        permutation importances (``result.top_features(n)``).

    Notes
    -----
    **The statistic** is the mean over the folds of the held-out ROC AUC (averaging
    per fold, rather than pooling all out-of-fold scores, keeps differences between
    the folds' models from diluting it).

    **The p-value** comes from permuting the origin labels against the fixed
    out-of-fold scores, within each fold; the classifier is fitted only ``cv``
    times, not once per permutation. Each fold's p-value is exact: the fold's model
    never saw its rows, so under the null hypothesis its scores are exchangeable
    across the fold's labels, and the permutation distribution of the fold's AUC
    is its null distribution (a Mann-Whitney test on the scores). The folds' models
    share training rows, so the fold p-values are dependent, and they depend in
    the direction that matters: a model that learnt the other folds' chance
    differences scores every fold too well or too badly at once. Treating them as
    independent (comparing the mean fold AUC with the mean of independent
    permutations of each fold) gave 9 false alarms at the 5% level in 40 pairs of
    random halves of 100 rows (logistic regression, 5 features). ``p_value`` is
    therefore ``e`` times the geometric mean of the fold p-values, capped at 1,
    which is a valid p-value however they depend on each other (Vovk and Wang
    2020): it never raises false alarms above ``alpha``, and pays with some power.
    Twice their arithmetic mean is valid too, but a weak shift that early stopping
    lets some folds' models miss, fold p-values (0.001, 0.001, 0.001, 0.08, 0.58),
    merges to 0.27 that way and to 0.023 through the geometric mean. The smallest
    value it takes is ``e / (n_permutations + 1)``.

    **The importances** are scikit-learn's
    :func:`~sklearn.inspection.permutation_importance` of the first fold's model on
    (at most ``max_importance_rows`` of) its held-out rows, scored by ROC AUC: the
    drop in AUC when one column is shuffled.

    The test answers "do the samples differ?", not "does the difference matter to
    my model?"; with large samples it detects differences too small to matter.
    Passing ``X_new`` as rows the model gets wrong and ``X_reference`` as the rest
    turns it into an error analysis.

    References
    ----------
    Lopez-Paz and Oquab, "Revisiting classifier two-sample tests", ICLR 2017.
    Vovk and Wang, "Combining p-values via averaging", Biometrika 107, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklnn.inspection import dataset_shift
    >>> rng = np.random.default_rng(0)
    >>> X_train = rng.normal(size=(500, 4))
    >>> X_same = rng.normal(size=(500, 4))
    >>> X_moved = rng.normal(size=(500, 4)) + [1.0, 0, 0, 0]
    >>> dataset_shift(X_train, X_same, random_state=0).shift_detected()
    False
    >>> result = dataset_shift(X_train, X_moved, random_state=0)
    >>> result.shift_detected(), result.top_features(1)[0][0]
    (True, 'x0')
    """
    Xr, Xn, names = _check_samples(X_reference, X_new)
    if not (isinstance(n_permutations, numbers.Integral) and int(n_permutations) >= 1):
        raise ValueError(f"n_permutations={n_permutations!r} must be an int >= 1.")
    if not (isinstance(max_importance_rows, numbers.Integral)
            and int(max_importance_rows) >= 0):
        raise ValueError(f"max_importance_rows={max_importance_rows!r} must be an int >= 0 "
                         "(0 skips the importances).")
    if classifier is not None and not hasattr(classifier, "predict_proba"):
        raise TypeError(f"classifier {classifier!r} has no predict_proba; pass a classifier "
                        "that has one, or None for histogram gradient boosting.")
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=4)
    X = _stack(Xr, Xn)
    y = np.r_[np.zeros(_n_rows(Xr), dtype=int), np.ones(_n_rows(Xn), dtype=int)]
    folds = _folds(cv, X, y, seeds[0])
    model = _default_classifier(seeds[1]) if classifier is None else classifier

    scores = np.empty(len(y))
    first = None  # the first fold's model: the importances are measured on it
    with _idle_cores_only() if classifier is None else nullcontext():
        for train, test in folds:
            fold_model = clone(model).fit(_rows(X, train), y[train])
            positive = list(fold_model.classes_).index(1)
            scores[test] = fold_model.predict_proba(_rows(X, test))[:, positive]
            first = fold_model if first is None else first
        fold_aucs, null_aucs = _auc_and_null(scores, y, folds, n_permutations,
                                             np.random.default_rng(seeds[2]))
        importances = (None, None)
        if max_importance_rows:
            importances = _importances(first, X, y, folds[0][1], max_importance_rows,
                                       seeds[3])
    n_ref = _n_rows(Xr)
    scores_new = scores[n_ref:]
    # the observed AUC counts as one draw of its null: never 0, exact at any size
    fold_p = (1 + np.sum(null_aucs >= fold_aucs - 1e-12, axis=0)) / (1 + n_permutations)
    return ShiftResult(
        auc=float(fold_aucs.mean()),
        # e times the geometric mean of dependent p-values is a p-value (Vovk and Wang)
        p_value=float(min(1.0, np.e * np.exp(np.mean(np.log(fold_p))))),
        fold_aucs=fold_aucs, fold_p_values=fold_p, null_aucs=null_aucs,
        scores_reference=scores[:n_ref], scores_new=scores_new,
        shifted_rows=np.argsort(-scores_new, kind="stable"),
        feature_names=names, feature_importances=importances[0],
        feature_importances_std=importances[1], model=first)


def _check_samples(X_reference, X_new):
    """Both samples validated, and the feature names (a DataFrame's columns or x0, x1...)."""
    frames = [hasattr(X, "columns") and hasattr(X, "iloc") for X in (X_reference, X_new)]
    if all(frames):
        if list(X_reference.columns) != list(X_new.columns):
            raise ValueError(
                "X_reference and X_new are DataFrames with different columns "
                f"({list(X_reference.columns)[:5]}... vs {list(X_new.columns)[:5]}...); "
                "select the same columns in the same order in both.")
        checked = []
        for X, name in ((X_reference, "X_reference"), (X_new, "X_new")):
            _check_size(len(X), X.shape[1], name)
            checked.append(X)
        return checked[0], checked[1], np.asarray([str(c) for c in X_reference.columns],
                                                  dtype=object)
    arrays = []
    for X, name in ((X_reference, "X_reference"), (X_new, "X_new")):
        X = check_array(X, ensure_all_finite="allow-nan", input_name=name)
        _check_size(*X.shape, name)
        arrays.append(X)
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise ValueError(f"X_reference has {arrays[0].shape[1]} features and X_new "
                         f"{arrays[1].shape[1]}; both must have the same columns.")
    return arrays[0], arrays[1], np.asarray([f"x{i}" for i in range(arrays[0].shape[1])],
                                            dtype=object)


def _check_size(n_rows, n_features, name):
    if n_rows < 2 or n_features < 1:
        raise ValueError(f"{name} has shape ({n_rows}, {n_features}); dataset_shift needs "
                         "at least 2 rows and 1 feature in each sample.")


def _n_rows(X) -> int:
    return X.shape[0]


def _stack(Xr, Xn):
    if hasattr(Xr, "iloc"):
        import pandas as pd

        return pd.concat([Xr, Xn], ignore_index=True)
    return np.concatenate([Xr, Xn]) if Xr.dtype == Xn.dtype else np.concatenate(
        [Xr.astype(np.float64), Xn.astype(np.float64)])


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _folds(cv, X, y, seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) folds; their test parts must cover every row exactly once."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv={cv} must be at least 2 folds.")
        smaller = int(min(np.sum(y == 0), np.sum(y == 1)))
        if smaller < int(cv):
            raise ValueError(f"cv={cv} folds need at least {cv} rows in each sample; the "
                             f"smaller one has {smaller}. Pass more rows or a smaller cv.")
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    elif hasattr(cv, "split") and not isinstance(cv, str):
        splitter = cv
    else:
        raise TypeError(f"cv={cv!r} must be an int or a cross-validation splitter.")
    folds = [(np.asarray(train), np.asarray(test)) for train, test in splitter.split(X, y)]
    counts = np.bincount(np.concatenate([test for _, test in folds]), minlength=len(y))
    if np.any(counts != 1):
        raise ValueError("cv must give test folds that hold every row exactly once (as "
                         "KFold and StratifiedKFold do); every row needs one out-of-fold score.")
    for _, test in folds:
        if len(np.unique(y[test])) < 2:
            raise ValueError("a test fold holds rows of only one sample; use a stratified "
                             "splitter (the default) so each fold has rows of both.")
    return folds


def _default_classifier(seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # early stopping on every size (scikit-learn's "auto" starts at 10,000 rows): with no
    # shift it stops after a few trees, and fewer trees also make the importances cheaper
    return HistGradientBoostingClassifier(early_stopping=True, random_state=seed)


def _idle_cores_only():
    """OpenMP limited to the idle cores: histogram gradient boosting's threads spin at
    every barrier, and one sharing its core with another process stalls the rest (on a
    busy 2-core machine two threads fitted 8 times slower than one)."""
    from threadpoolctl import threadpool_limits

    from sklnn.engine.threads import idle_cores

    return threadpool_limits(limits=idle_cores(), user_api="openmp")


def _auc_and_null(scores, y, folds, n_permutations, rng):
    """Each fold's held-out AUC and its permutation distribution, (n_permutations, n_folds)."""
    fold_aucs = np.empty(len(folds))
    null = np.empty((n_permutations, len(folds)))
    for k, (_, test) in enumerate(folds):
        ranks = rankdata(scores[test])  # ties get their mean rank, as in the AUC
        positive = y[test] == 1
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        offset, scale = n_pos * (n_pos + 1) / 2, n_pos * n_neg
        fold_aucs[k] = (ranks[positive].sum() - offset) / scale
        # a random relabelling of the fold = a random n_pos-subset of its ranks
        chunk = max(1, _PERMUTATION_CHUNK // len(ranks))
        for start in range(0, n_permutations, chunk):
            stop = min(start + chunk, n_permutations)
            shuffled = rng.permuted(np.tile(ranks, (stop - start, 1)), axis=1)
            null[start:stop, k] = (shuffled[:, :n_pos].sum(axis=1) - offset) / scale
    return fold_aucs, null


def _importances(model, X, y, test, max_rows, seed):
    """Permutation importance (drop in ROC AUC) of ``model`` on its held-out rows."""
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(seed)
    if len(test) > max_rows:
        test = rng.choice(test, size=max_rows, replace=False)
        if len(np.unique(y[test])) < 2:  # too few rows kept to hold both samples
            return None, None
    result = permutation_importance(model, _rows(X, test), y[test], scoring="roc_auc",
                                    n_repeats=_IMPORTANCE_REPEATS, random_state=seed)
    return result.importances_mean, result.importances_std
