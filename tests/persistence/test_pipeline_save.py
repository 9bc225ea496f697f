"""sklnn.save / sklnn.load of Pipelines with sklnn steps: skops for the rest, no pickle."""

import json
import re
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklnn
from sklnn import MLPClassifierGPU, MLPRegressorGPU
from sklnn.persistence import ModelFileError, UntrustedTypesError

pytest.importorskip("skops", reason="saving a Pipeline needs skops (pipeline extra)")


class Doubler(TransformerMixin, BaseEstimator):
    """A user-defined step: not a type skops trusts by default."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return 2 * np.asarray(X)


def _data():
    X = np.random.RandomState(0).randn(60, 5)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_round_trip(tmp_path):
    X, y = _data()
    clf = MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    # a nested pipeline: the network is the last step of the outer pipeline's second step
    nested = make_pipeline(StandardScaler(), make_pipeline(
        PCA(n_components=3), MLPRegressorGPU(hidden_layer_sizes=(4,), max_iter=2,
                                             random_state=0))).fit(X, X[:, 2])
    for model, method, place in ((pipe, "predict_proba", [1]), (nested, "predict", [1, 1])):
        path = tmp_path / f"{method}.zip"
        sklnn.save(model, path)
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            manifest = json.loads(archive.read("bundle.json"))
        assert names == ["bundle.json", "estimator-0.sklnn", "objects.skops"]
        assert manifest["estimators"] == [{"member": "estimator-0.sklnn", "path": place}]
        loaded = sklnn.load(path)
        assert repr(loaded) == repr(model)
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X))
    # the caller's pipeline is untouched, and a bare estimator stays a plain model file
    assert pipe.steps[-1][1] is clf
    sklnn.save(clf, tmp_path / "clf.sklnn")
    with zipfile.ZipFile(tmp_path / "clf.sklnn") as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "weights.npz"]
    np.testing.assert_array_equal(sklnn.load(tmp_path / "clf.sklnn").predict(X[:, :5]),
                                  clf.predict(X[:, :5]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_untrusted_types_are_refused(tmp_path):
    X, y = _data()
    pipe = make_pipeline(Doubler(), MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=2,
                                                     random_state=0)).fit(X, y)
    path = tmp_path / "pipe.zip"
    sklnn.save(pipe, path)
    name = f"{Doubler.__module__}.Doubler"
    with pytest.raises(UntrustedTypesError, match=re.escape(
            f"does not trust by default: [{name!r}]. Building them may run their code")):
        sklnn.load(path)
    loaded = sklnn.load(path, trusted=[name])
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))

    # an sklnn estimator outside a Pipeline's steps is refused before anything is written
    with pytest.raises(TypeError, match="steps of a Pipeline.*own save()"):
        sklnn.save(GridSearchCV(MLPClassifierGPU(), {"alpha": [1e-4]}), tmp_path / "gs.zip")
    assert not (tmp_path / "gs.zip").exists()

    # a manifest that points an estimator at a step without a marker is refused
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["bundle.json"] = json.dumps(
        {**json.loads(members["bundle.json"]),
         "estimators": [{"member": "estimator-0.sklnn", "path": [0]}]}).encode()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    with pytest.raises(ModelFileError, match=r"estimator 0 at step \[0\]"):
        sklnn.load(bad, trusted=[name])


def _rezip(members: dict) -> bytes:
    import io
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    return buffer.getvalue()


def _members(data: bytes) -> dict:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    X, y = _data()
    pipe = make_pipeline(StandardScaler(), MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=1,
                                                            random_state=0))
    with pytest.warns(Warning):
        pipe.fit(X, y)
    path = tmp_path_factory.mktemp("bundle") / "good.zip"
    sklnn.save(pipe, path)
    return path


def _with_inner(bundle, tmp_path, edit) -> str:
    outer = _members(bundle.read_bytes())
    inner = _members(outer["objects.skops"])
    edit(inner)
    outer["objects.skops"] = _rezip(inner)
    path = tmp_path / "edited.zip"
    path.write_bytes(_rezip(outer))
    return path


def _npy(shape, data: bytes) -> bytes:
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": shape})
    return header.getvalue() + data


def test_the_inner_skops_zip_is_held_to_the_budget_before_skops_reads_it(bundle, tmp_path):
    """A 5 KB bundle whose inner .npy inflates to 512 MiB cost +1 GiB of memory
    and loaded, even with max_bytes=50 MB."""
    def bomb(inner):
        name = next(n for n in inner if n.endswith(".npy"))
        inner[name] = _npy((2**26,), bytes(2**29))

    path = _with_inner(bundle, tmp_path, bomb)
    assert path.stat().st_size < 10**6
    with pytest.raises(ModelFileError, match="objects.skops.*zip bomb"):
        sklnn.load(path)
    with pytest.raises(ModelFileError, match="objects.skops needs about 512.0 MiB"):
        sklnn.load(path, max_bytes=50 * 2**20)

    def header_lies(inner):  # a small member whose header declares 8 GiB
        name = next(n for n in inner if n.endswith(".npy"))
        inner[name] = _npy((2**30,), bytes(64))

    with pytest.raises(ModelFileError, match="more than its .* bytes hold"):
        sklnn.load(_with_inner(bundle, tmp_path, header_lies))
    assert repr(sklnn.load(bundle)).startswith("Pipeline")



def _with_objects(bundle, tmp_path, obj, places=None, version=1) -> str:
    import skops.io

    outer = _members(bundle.read_bytes())
    manifest = json.loads(outer["bundle.json"])
    if places is not None:
        manifest["estimators"] = [{"member": f"estimator-{k}.sklnn", "path": p}
                                  for k, p in enumerate(places)]
        network = outer["estimator-0.sklnn"]
        outer = {k: v for k, v in outer.items() if not k.startswith("estimator-")}
        outer.update({f"estimator-{k}.sklnn": network for k in range(len(places))})
    manifest["format_version"] = version
    outer["bundle.json"] = json.dumps(manifest).encode()
    if obj is not None:
        outer["objects.skops"] = skops.io.dumps(obj)
    path = tmp_path / "malformed.zip"
    path.write_bytes(_rezip(outer))
    return path


def _pipeline_with_steps(steps):
    pipe = make_pipeline(StandardScaler())
    pipe.steps = steps
    return pipe


@pytest.mark.parametrize("case", ["list", "LogisticRegression", "dangling marker",
                                  "step is a string", "step is a 1-tuple", "step is an int",
                                  "step is a dict", "nested step is a string",
                                  "format_version true", "format_version -7"])
def test_malformed_bundles_raise_model_file_error(bundle, tmp_path, case):
    """These raised ValueError, TypeError, IndexError or KeyError, or loaded
    a list, a LogisticRegression or a Pipeline holding the marker string."""
    from sklearn.linear_model import LogisticRegression

    marker = "sklnn-estimator-0"
    nested = make_pipeline(StandardScaler(), _pipeline_with_steps(["abc"]))
    obj, places, version = {
        "list": ([1, 2], [], 1),
        "LogisticRegression": (LogisticRegression(), [], 1),
        "dangling marker": (_pipeline_with_steps([("s", StandardScaler()), ("m", marker)]),
                            [], 1),
        "step is a string": (_pipeline_with_steps(["abc"]), [[0]], 1),
        "step is a 1-tuple": (_pipeline_with_steps([("a",)]), [[0]], 1),
        "step is an int": (_pipeline_with_steps([1]), [[0]], 1),
        "step is a dict": (_pipeline_with_steps([{"a": 1}]), [[0]], 1),
        "nested step is a string": (nested, [[1, 0]], 1),
        "format_version true": (None, None, True),
        "format_version -7": (None, None, -7),
    }[case]
    path = _with_objects(bundle, tmp_path, obj, places, version)
    with pytest.raises(ModelFileError) as info:
        sklnn.load(path)
    assert type(info.value) is ModelFileError, info.value


def test_trusted_must_be_a_list(bundle):
    with pytest.raises(TypeError, match="trusted must be a list of classes or dotted names"):
        sklnn.load(bundle, trusted=True)
