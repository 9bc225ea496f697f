"""Inspecting data and models: is the data a model meets still like what it learnt from?

- :func:`dataset_shift`: a classifier two-sample test (cross-validated ROC AUC and a
  permutation p-value) that also names the rows and features that differ most;
- :class:`ShiftResult`: what it returns.

:class:`sklnn.plot.DatasetShiftDisplay` draws a result.
"""

from sklnn.inspection._result import ShiftResult
from sklnn.inspection._shift import dataset_shift

__all__ = ["ShiftResult", "dataset_shift"]
