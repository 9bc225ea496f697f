"""Every name sklnn takes from scikit-learn's private API, in one place.

scikit-learn does not promise these between releases, so sklnn imports them only here
(a test checks it) and ``pyproject.toml`` bounds scikit-learn by the newest release the
suite has passed on. What each is for:

- ``_param_validation``: the constraint objects of ``_parameter_constraints``, the
  vocabulary scikit-learn's own estimators declare their parameters with;
- ``_fit_context``: validates the parameters when ``fit`` starts, as in scikit-learn;
- ``_check_y``, ``_check_sample_weight``: target and sample-weight validation with
  scikit-learn's messages;
- ``_check_optimize_result``: SciPy L-BFGS-B's result read as scikit-learn's MLP reads it;
- ``callback_management_context`` (scikit-learn >= 1.9): the callback API's set-up and
  teardown around a fit (``sklnn.estimators._sklearn_callbacks``).
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, _check_y

try:
    from sklearn.callback._callback_support import callback_management_context
except ImportError:  # scikit-learn < 1.9
    callback_management_context = None

__all__ = [
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_check_optimize_result",
    "_check_sample_weight",
    "_check_y",
    "_fit_context",
    "callback_management_context",
]
