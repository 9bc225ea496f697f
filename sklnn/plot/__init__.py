"""Display objects for training curves, forecasts, misclassified images, layers' input
statistics and dataset shift.

They follow scikit-learn's display API (as ``ConfusionMatrixDisplay`` does): build one
with ``from_estimator`` (it computes what to draw and plots it), or construct it from
the values and call ``plot(ax=...)``; the drawn objects are kept as ``ax_``,
``figure_`` and the artists. They need matplotlib (``pip install sklnn[plot]``), which
is imported when a display plots, never when sklnn is imported.
"""

from sklnn.plot._activations import ActivationStatisticsDisplay
from sklnn.plot._forecast import ForecastDisplay
from sklnn.plot._images import MisclassifiedImagesDisplay
from sklnn.plot._shift import DatasetShiftDisplay
from sklnn.plot._training import TrainingCurveDisplay

__all__ = [
    "ActivationStatisticsDisplay",
    "DatasetShiftDisplay",
    "ForecastDisplay",
    "MisclassifiedImagesDisplay",
    "TrainingCurveDisplay",
]
