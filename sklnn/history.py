"""``history_``: one record per epoch, indexable like a list and by column, as in skorch."""

from __future__ import annotations

__all__ = ["History"]


class History(list):
    """The per-epoch records of a fit (dicts with ``epoch``, ``train_loss``,
    ``valid_loss``, ``valid_score``, ``lr``, ``duration`` and any scores callbacks add).

    It is a list, so existing code keeps working, and it also takes a column:

    >>> h = History([{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.5}])
    >>> h[-1]["train_loss"], h[-1, "train_loss"]
    (0.5, 0.5)
    >>> h[:, "train_loss"]
    [0.9, 0.5]
    >>> h[:, ("epoch", "train_loss")]
    [(1, 0.9), (2, 0.5)]
    """

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            result = super().__getitem__(key)
            return History(result) if isinstance(key, slice) else result
        rows, column = key
        if isinstance(rows, slice):
            return [self._pick(record, column) for record in super().__getitem__(rows)]
        return self._pick(super().__getitem__(rows), column)

    @staticmethod
    def _pick(record: dict, column):
        names = column if isinstance(column, tuple) else (column,)
        missing = [name for name in names if name not in record]
        if missing:
            raise KeyError(f"history has no column {missing[0]!r}; it has {sorted(record)}.")
        values = tuple(record[name] for name in names)
        return values if isinstance(column, tuple) else values[0]

    def to_frame(self):
        """The records as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        return pd.DataFrame(list(self)).set_index("epoch")
