"""scikit-learn's full estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklnn import (
    CNNImageClassifier,
    CNNSequenceClassifier,
    MLPClassifierGPU,
    MLPRegressorGPU,
    ResNetClassifier,
    RNNClassifier,
    RNNForecaster,
    SeasonalNaive,
)

# Small, fast settings; the checks exercise behaviour, not accuracy at scale. On CUDA,
# precision="auto" computes in float32, which misses the rtol=1e-7 equivalence checks
# (sample-weight equivalence, subset invariance); precision="float64" passes them all there.
ESTIMATORS = [
    MLPClassifierGPU(max_iter=100, random_state=0),
    MLPRegressorGPU(max_iter=100, random_state=0),
    CNNImageClassifier(filters=(4,), dense_layers=(16,), learning_rate_init=0.01, max_iter=30,
                       random_state=0),
    # with its default batch norm, whose training statistics honour sample weights
    ResNetClassifier(depth=8, width=0.25, learning_rate_init=0.05, max_iter=20,
                     random_state=0),
    # the checks' regression data are rows of unrelated features, not windows of a series:
    # read as levels, not as per-window changes (whose level the default normalises away)
    RNNForecaster(cell="gru", hidden_size=8, num_layers=1, learning_rate_init=0.02,
                  max_iter=100, differencing=0, instance_norm=False, random_state=0),
    # the sequence classifiers' batch "auto" depends on n_samples (ten batches for small
    # sets), so repeated rows would change the batches: one full batch, as the MLPs' "auto"
    # gives these small check sets, makes weights and repeats train alike
    RNNClassifier(cell="gru", hidden_size=8, num_layers=1, learning_rate_init=0.02,
                  max_iter=100, batch_size=200, random_state=0),
    CNNSequenceClassifier(filters=(8, 8), kernel_sizes=(3, 3), learning_rate_init=0.02,
                          max_iter=50, batch_size=200, random_state=0),
]
# Estimators without a network (no save, device or seed), checked the same way.
BASELINES = [SeasonalNaive()]


@parametrize_with_checks(ESTIMATORS + BASELINES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
