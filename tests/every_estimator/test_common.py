"""scikit-learn's full estimator checks over every public estimator (``conftest.CHECKED``)."""

from conftest import CHECKED
from sklearn.utils.estimator_checks import parametrize_with_checks


@parametrize_with_checks(CHECKED)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
