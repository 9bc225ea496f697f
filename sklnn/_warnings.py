"""Warnings that point at the user's line, however deep inside sklnn they are raised."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from contextlib import contextmanager

import sklearn

_INTERNAL = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (__file__, sklearn.__file__)
) + (os.path.abspath(contextlib.__file__),)


def _user_stacklevel() -> int:
    """The stacklevel of the first frame outside sklnn and scikit-learn (whose Pipeline,
    search and ``_fit_context`` wrappers sit between the user and sklnn)."""
    frame = sys._getframe(2)  # the caller of warn_user
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the user's code."""
    warnings.warn(message, category, stacklevel=_user_stacklevel())


@contextmanager
def attributed_to_user():
    """Re-issue every warning raised inside (by sklnn, scikit-learn's validation or torch)
    from the user's line, so the user's filters and tracebacks see their own code."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # torch emits this for read-only inputs; the data is copied, not written
        warnings.filterwarnings("ignore", message=".*not writable.*")
        try:
            yield
        finally:
            pending = list(caught)
    for item in pending:
        warnings.warn(item.message, item.category, stacklevel=_user_stacklevel())
