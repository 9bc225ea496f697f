"""summary(): a table whose columns line up for any layer name, shown once by a notebook."""

import contextlib
import io
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from sklnn import MLPClassifierGPU, ResNetClassifier
from sklnn.summary import Summary, summarize


class LongNames(nn.Module):
    """Layer names longer than any fixed column (a deep ResNet's are about 40 characters)."""

    def __init__(self):
        super().__init__()
        self.a_first_layer_with_a_name_much_longer_than_any_column_width = nn.Linear(3, 5)
        self.act = nn.ReLU()
        self.out = nn.Linear(5, 123_456)

    def forward(self, x):
        first = self.a_first_layer_with_a_name_much_longer_than_any_column_width
        return self.out(self.act(first(x)))


def column_starts(table: Summary):
    """Where each row's shape column begins and where its params column ends."""
    lines = str(table).splitlines()
    header, body = lines[0], lines[2:2 + len(table.rows)]
    shape_at = header.index("output shape")
    params_end = len(header)
    return header, body, shape_at, params_end


def assert_aligned(table: Summary):
    header, body, shape_at, params_end = column_starts(table)
    assert len(body) == len(table.rows)
    for row, line in zip(table.rows, body):
        assert line.startswith(row.label)
        # the label ends at least two spaces before the shape column, whatever its length
        assert line[:shape_at].rstrip() == row.label
        assert line[shape_at - 2:shape_at] == "  "
        assert line[shape_at:].startswith(row.shape)
        assert len(line) == params_end  # numbers right-aligned under "params"
        assert line.endswith(f"{row.n_params:,}")
        assert line[params_end - len(f"{row.n_params:,}") - 2:].startswith("  ")


def test_long_layer_names_do_not_run_into_the_next_column():
    table = summarize(LongNames(), (3,))
    assert_aligned(table)
    name = "a_first_layer_with_a_name_much_longer_than_any_column_width"
    assert f"{name} (Linear)  (None, 5)" in str(table)
    assert str(table).splitlines()[-2:] == ["Total params: 740,756",
                                            "Trainable params: 740,756"]
    assert table.total_params == sum(row.n_params for row in table.rows) == 740_756


def test_resnet_summary_columns_line_up():
    X, y = load_digits(return_X_y=True)
    clf = ResNetClassifier(depth=8, width=0.25, max_iter=1, batch_size=32, random_state=0)
    clf.fit((X[:64] / 16).astype(np.float32), y[:64])
    table = clf.summary(print_fn=None)
    assert max(len(row.label) for row in table.rows) > 28  # the old fixed column's width
    assert_aligned(table)


@pytest.fixture(scope="module")
def fitted_mlp():
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # two epochs are enough here
        return MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)


def test_repr_is_the_table_so_a_notebook_shows_it_once(fitted_mlp):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        table = fitted_mlp.summary(print_fn=None)
        # what a REPL or a notebook cell does with the value of its last expression
        sys.__displayhook__(table)
    shown = out.getvalue()
    assert shown == str(table) + "\n"
    assert shown.count("Total params") == 1
    assert repr(table) == str(table)
    assert "SummaryRow(" not in shown


def test_print_fn_receives_the_table_once(fitted_mlp):
    printed = []
    table = fitted_mlp.summary(print_fn=printed.append)
    assert printed == [str(table)]
    assert printed[0].splitlines()[0].split() == ["layer", "output", "shape", "params"]
    assert table.total_params == 64 * 8 + 8 + 8 * 10 + 10


def test_summary_returns_the_table_without_printing_it(fitted_mlp, capsys):
    table = fitted_mlp.summary()
    assert capsys.readouterr().out == ""
    assert repr(table) == str(table) and "Total params" in str(table)
