"""One fit at a time per estimator.

A fit trains a working copy and commits its fitted attributes at the end, so two fits of
one estimator running at once (``partial_fit`` from two threads) would each start from the
same state and the second commit would drop the first's updates. Fits of one estimator
therefore wait for each other; a fit started from inside a fit of the same estimator (a
callback calling ``fit``, in the same thread) raises instead of deadlocking.

The locks live in a table keyed weakly by the estimator, not on the estimator: nothing
is added to what is pickled, cloned, saved or returned by ``get_params``.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_OWNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


@contextlib.contextmanager
def one_fit_at_a_time(estimator):
    with _GUARD:
        lock = _LOCKS.setdefault(estimator, threading.Lock())
        if _OWNERS.get(estimator) == threading.get_ident():
            raise RuntimeError(
                f"a fit of this {type(estimator).__name__} is already in progress in this "
                "thread (a callback calling fit or partial_fit on the estimator it "
                "follows?); fit a clone instead (sklearn.base.clone).")
    with lock:
        _OWNERS[estimator] = threading.get_ident()
        try:
            yield
        finally:
            _OWNERS.pop(estimator, None)
