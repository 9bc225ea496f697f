"""The training engine shared by every estimator: devices, threads, batches, loop."""

from sklnn.engine.devices import resolve_device
from sklnn.engine.state import ProgressState, TrainingStopped
from sklnn.engine.trainer import Trainer

__all__ = ["ProgressState", "Trainer", "TrainingStopped", "resolve_device"]
