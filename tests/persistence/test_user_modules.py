"""Saving a user's own module: by import path and weights, loaded only when trusted."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import TinyNet
from sklearn.datasets import make_classification

import sklnn
from sklnn import NeuralNetClassifier, NeuralNetRegressor
from sklnn.persistence import ModelFileError, UntrustedTypesError

# A module that announces every import and every construction in marker files, so a test
# can tell whether loading ran any of its code.
NETS = '''
import os
import pathlib
import torch

MARKS = pathlib.Path(os.environ["SKLNN_TEST_MARKS"])
(MARKS / "imported").touch()


class Watched(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs, hidden=4):
        super().__init__()
        (MARKS / "built").touch()
        self.body = torch.nn.Linear(n_features_in, hidden)
        self.head = torch.nn.Linear(hidden, n_outputs)

    def forward(self, X):
        return self.head(torch.relu(self.body(X)))
'''

LOAD = '''
import sys
import numpy as np
import sklnn
from sklnn.persistence import UntrustedTypesError

path, data, trusted = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    model = sklnn.load(path, **({"trusted": trusted} if trusted else {}))
except UntrustedTypesError as exc:
    print("REFUSED", exc)
else:
    np.save(data + ".out.npy", model.predict_proba(np.load(data)))
    print("LOADED")
'''


def test_an_untrusted_module_runs_no_code_and_a_trusted_one_predicts_the_same(
        tmp_path, monkeypatch):
    package, marks = tmp_path / "code", tmp_path / "marks"
    package.mkdir()
    marks.mkdir()
    (package / "watched_nets.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setenv("SKLNN_TEST_MARKS", str(marks))
    from watched_nets import Watched

    X, y = make_classification(60, 5, random_state=0)
    model = NeuralNetClassifier(Watched, module__hidden=6, optimizer=torch.optim.RMSprop,
                                criterion=torch.nn.CrossEntropyLoss, module__n_outputs=2,
                                max_iter=3, random_state=0).fit(X, y)
    model.save(tmp_path / "model.sklnn")
    np.save(tmp_path / "X.npy", X)
    for mark in marks.iterdir():
        mark.unlink()

    def load_in_a_fresh_process(*trusted):
        run = subprocess.run(
            [sys.executable, "-c", LOAD, str(tmp_path / "model.sklnn"), str(tmp_path / "X.npy"),
             *trusted], capture_output=True, text=True, timeout=300,
            env={"PYTHONPATH": f"{package}:{':'.join(sys.path)}",
                 "SKLNN_TEST_MARKS": str(marks)})
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    refused = load_in_a_fresh_process()
    assert "REFUSED" in refused and "watched_nets.Watched" in refused
    assert list(marks.iterdir()) == []  # not even imported
    assert "LOADED" in load_in_a_fresh_process("watched_nets.Watched")
    assert {m.name for m in marks.iterdir()} == {"imported", "built"}
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy.out.npy"), model.predict_proba(X))


def test_torch_s_own_classes_are_trusted_and_everything_round_trips(tmp_path):
    X, y = make_classification(80, 6, n_classes=3, n_informative=4, random_state=0)
    model = NeuralNetClassifier(TinyNet, module__hidden=5, criterion=torch.nn.CrossEntropyLoss,
                                criterion__label_smoothing=0.05, optimizer=torch.optim.SGD,
                                optimizer__param_groups=[("head.*", {"lr": 0.01})],
                                max_iter=3, random_state=0).fit(X, y)
    model.save(tmp_path / "m")
    with pytest.raises(UntrustedTypesError, match=r"conftest\.TinyNet"):
        sklnn.load(tmp_path / "m")
    loaded = sklnn.load(tmp_path / "m", trusted=["conftest.TinyNet"])
    assert loaded.get_params() == {**model.get_params(), "callbacks": None}
    assert loaded.criterion_.label_smoothing == 0.05
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    loaded.partial_fit(X, y)  # continues training (with a fresh optimiser state)


def test_what_a_file_cannot_rebuild_is_refused_when_saving(tmp_path):
    class Local(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)

        def forward(self, X):
            return self.linear(X)

    X = np.random.RandomState(0).rand(20, 3)
    model = NeuralNetRegressor(Local, max_iter=1).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="inside a function.*can be imported"):
        model.save(tmp_path / "m")
    model = NeuralNetRegressor(Local(), max_iter=1).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="instance of Local.*Pass the class"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_trusted_must_list_classes_or_names(tmp_path):
    X, y = make_classification(30, 4, random_state=0)
    NeuralNetClassifier(TinyNet, max_iter=1).fit(X, y).save(tmp_path / "m")
    with pytest.raises(TypeError, match="trusted must be a list"):
        sklnn.load(tmp_path / "m", trusted=True)
    with pytest.raises(ModelFileError):  # UntrustedTypesError is a ModelFileError
        sklnn.load(tmp_path / "m", trusted=["conftest.Other"])
