"""scikit-learn's checks at the defaults: what the defaults cannot pass is
declared (a tag, or ``_expected_failed_checks`` with its reason), and really fails."""

import warnings

import pytest
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_regressors_train,
    check_sample_weight_equivalence_on_dense_data,
)

from sklnn import CNNSequenceClassifier, RNNClassifier, RNNForecaster


@pytest.mark.parametrize("cls", [RNNClassifier, CNNSequenceClassifier])
def test_sequence_classifiers_declare_the_weight_check_their_auto_batch_fails(cls):
    check = check_sample_weight_equivalence_on_dense_data
    declared = cls()._expected_failed_checks()
    assert check.__name__ in declared and "ten batches" in declared[check.__name__]
    assert check.__name__ in cls.__doc__
    fast = {"max_iter": 5} if cls is RNNClassifier else {"max_iter": 5, "filters": (4,),
                                                          "kernel_sizes": (3,)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AssertionError, match="not equivalent"):
            check(cls.__name__, cls(**fast))
        # a fixed batch holding every row passes it, and nothing is declared then
        fixed = cls(batch_size=200, **fast)
        assert fixed._expected_failed_checks() == {}
        check(cls.__name__, fixed)


def test_the_forecaster_declares_a_poor_score_at_its_defaults():
    assert get_tags(RNNForecaster()).regressor_tags.poor_score
    levels = RNNForecaster(differencing=0, instance_norm=False)
    assert not get_tags(levels).regressor_tags.poor_score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_regressors_train("RNNForecaster", RNNForecaster(max_iter=5, random_state=0))


def test_score_takes_a_dataset_of_pairs_as_fit_does():
    """Before: score(Dataset) raised (y missing) although fit(Dataset) reads y from it."""
    import numpy as np
    import torch
    from torch.utils.data import TensorDataset

    from sklnn import MLPClassifierGPU, MLPRegressorGPU

    X = np.random.RandomState(0).rand(40, 3).astype(np.float32)
    labels, values = (X[:, 0] > 0.5).astype(np.int64), X[:, 0] + X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cls, y in ((MLPClassifierGPU, labels), (MLPRegressorGPU, values)):
            data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
            model = cls(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(data)
            assert model.score(data) == model.score(X, y)
    with pytest.raises(ValueError, match="must be pairs"):
        model.score(TensorDataset(torch.from_numpy(X)))
