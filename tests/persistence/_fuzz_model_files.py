"""Fuzzing sklnn.load with mutated model files (run by test_model_files_fuzz.py).

``python _fuzz_model_files.py N [bundles]`` runs N derandomized hypothesis examples: each
takes a good model file (or, with ``bundles``, a good Pipeline bundle: its outer zip, its
manifest, its inner skops zip and that zip's schema are mutated), flips bytes, edits
members or edits the metadata (recomputing the checksum or not, as a tamperer or a bad
disk would), loads it, and predicts when it loads.
Anything but success or ModelFileError fails the run. Prints the growth of peak memory.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
from _model_files import _current_rss_bytes, _peak_rss_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sklnn
from sklnn.persistence import ModelFileError

FORMAT1 = Path(__file__).parent / "data" / "format1"
BASES = ["MLPClassifierGPU", "CNNImageClassifier", "RNNForecaster-sequence",
         "MLPClassifierGPU-multilabel"]
FILES = {name: (FORMAT1 / f"{name}.sklnn").read_bytes() for name in BASES}
X = np.load(FORMAT1 / "expected.npz")["X"][:5]

# An explicit alphabet: st.text() without one builds hypothesis's Unicode table on first use
# (~200 MB, once per machine), which would count as the loader's memory.
text = functools.partial(st.text, alphabet="ab_ .:\u00e9\u2603\x00")
names = st.text(alphabet="ab_.\u00e9\u2603", min_size=1, max_size=8)  # zip cuts at NUL
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
    | text(max_size=12) | st.sampled_from(["float64", "cpu", "binary", "MLPClassifierGPU"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["__float__", "__ndarray__", "dtype", "shape", "__tuple__",
                         "__dict_items__", "x"]), inner, max_size=3),
    max_leaves=8,
)


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def _zip(members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return buffer.getvalue()


def _edit_json(value, path: list[int], new):
    """Replace the node that ``path`` (child indices, wrapping) leads to with ``new``."""
    if not path or not isinstance(value, (dict, list)) or not value:
        return new
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    value[key] = _edit_json(value[key], path[1:], new)
    return value


@st.composite
def mutated_files(draw) -> bytes:
    data = FILES[draw(st.sampled_from(BASES))]
    kind = draw(st.sampled_from(["bytes", "members", "metadata", "weights"]))
    if kind == "bytes":
        flipped = bytearray(data)
        for index, mask in draw(st.lists(st.tuples(st.integers(0, len(data) - 1),
                                                   st.integers(1, 255)), min_size=1, max_size=6)):
            flipped[index] ^= mask
        return bytes(flipped)
    members = _members(data)
    if kind == "members":
        edit = _edit_members(draw, members, MODEL_FILE_EDITS)
        return _zip(members, zipfile.ZIP_STORED if edit == "stored" else zipfile.ZIP_DEFLATED)
    metadata = json.loads(dict(members)["metadata.json"])
    weights = dict(members)["weights.npz"]
    if kind == "metadata":
        path = draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
        metadata = _edit_json(metadata, path, draw(json_values))
    else:
        with np.load(io.BytesIO(weights)) as arrays:
            state = {name: arrays[name] for name in arrays.files}
        name = draw(st.sampled_from(sorted(state)))
        shape = draw(st.lists(st.integers(0, 5), max_size=3))
        dtype = draw(st.sampled_from(["<f4", "<f8", "<i8", "|b1", "<c8", "<U3"]))
        state[name] = np.zeros(shape, dtype=dtype)
        buffer = io.BytesIO()
        np.savez(buffer, **state)
        weights = buffer.getvalue()
    if draw(st.booleans()):  # a tamperer recomputes the checksum
        metadata["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    return _zip([("metadata.json", json.dumps(metadata).encode()), ("weights.npz", weights)])


def _bundle() -> bytes:
    """A small Pipeline bundle (a scaler, a PCA and a network), built the same every run."""
    import tempfile
    import warnings

    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = np.random.RandomState(0).rand(40, 4)
    pipe = make_pipeline(StandardScaler(), PCA(n_components=3), sklnn.MLPClassifierGPU(
        hidden_layer_sizes=(3,), max_iter=1, random_state=0))
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as folder:
        warnings.simplefilter("ignore")
        pipe.fit(rows, rows[:, 0] > 0.5)
        sklnn.save(pipe, Path(folder) / "b.zip")
        return (Path(folder) / "b.zip").read_bytes()


#: edits of a zip's members: a model file's may also store it uncompressed, a bundle's may
#: flip bytes inside one member
MODEL_FILE_EDITS = ("drop", "duplicate", "extra", "rename", "truncate", "stored", "garbage")
BUNDLE_EDITS = ("drop", "duplicate", "extra", "rename", "truncate", "garbage", "flip")


def _edit_members(draw, members: list, edits=BUNDLE_EDITS) -> str:
    """Apply one of ``edits`` to ``members`` (a list of (name, payload)) in place; return it."""
    edit = draw(st.sampled_from(edits))
    index = draw(st.integers(0, len(members) - 1))
    name, payload = members[index]
    if edit == "drop":
        del members[index]
    elif edit == "duplicate":
        members.append((name, payload))
    elif edit == "extra":
        members.append((draw(names), b"x"))
    elif edit == "rename":
        members[index] = (draw(names), payload)
    elif edit == "truncate":
        members[index] = (name, payload[: draw(st.integers(0, max(0, len(payload) - 1)))])
    elif edit == "garbage":
        members[index] = (name, draw(st.binary(max_size=64)))
    elif edit == "flip" and payload:
        flipped = bytearray(payload)
        for at, mask in draw(st.lists(st.tuples(st.integers(0, len(payload) - 1),
                                                st.integers(1, 255)), min_size=1, max_size=4)):
            flipped[at] ^= mask
        members[index] = (name, bytes(flipped))
    return edit


@st.composite
def mutated_bundles(draw, bundle: bytes) -> bytes:
    """The bundle with its bytes flipped, its members edited, its manifest edited, or the
    members of its inner skops zip (objects.skops) edited, or its schema.json edited."""
    kind = draw(st.sampled_from(["bytes", "outer", "manifest", "inner", "schema"]))
    if kind == "bytes":
        flipped = bytearray(bundle)
        for index, mask in draw(st.lists(st.tuples(st.integers(0, len(bundle) - 1),
                                                   st.integers(1, 255)), min_size=1, max_size=6)):
            flipped[index] ^= mask
        return bytes(flipped)
    members = _members(bundle)
    if kind == "outer":
        _edit_members(draw, members)
        return _zip(members)
    outer = dict(members)
    if kind == "manifest":
        manifest = json.loads(outer["bundle.json"])
        path = draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
        outer["bundle.json"] = json.dumps(_edit_json(manifest, path, draw(json_values))).encode()
    else:
        inner = _members(outer["objects.skops"])
        if kind == "inner":
            _edit_members(draw, inner)
        else:
            schema = json.loads(dict(inner)["schema.json"])
            path = draw(st.lists(st.integers(0, 50), min_size=1, max_size=8))
            schema = _edit_json(schema, path, draw(json_values))
            inner = [(n, json.dumps(schema).encode() if n == "schema.json" else d)
                     for n, d in inner]
        outer["objects.skops"] = _zip(inner)
    return _zip(list(outer.items()))


def run(n_examples: int, folder: Path, bundles: bool = False) -> dict:
    outcomes = {"loaded": 0, "refused": 0}
    bundle = _bundle() if bundles else b""

    @settings(max_examples=n_examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated_bundles(bundle) if bundles else mutated_files())
    def load_mutated(data):
        path = folder / "mutated.sklnn"
        path.write_bytes(data)
        try:
            model = sklnn.load(path)
        except ModelFileError:
            outcomes["refused"] += 1
            return
        outcomes["loaded"] += 1
        if bundles:  # a Pipeline whose steps are all (name, estimator), never a marker
            from sklearn.pipeline import Pipeline

            assert isinstance(model, Pipeline), type(model)
            assert all(isinstance(s, tuple) and hasattr(s[1], "fit") for s in model.steps)
            return
        width = model.n_features_in_
        if width <= 64:
            rows = np.resize(X, (len(X), width))
            model.transform(rows) if hasattr(model, "transform") else model.predict(rows)

    for data in [*FILES.values(), bundle][: len(FILES) + bundles]:  # warm-up: imports, kernels
        (folder / "good.sklnn").write_bytes(data)
        sklnn.load(folder / "good.sklnn")
    baseline = max(_peak_rss_bytes(), _current_rss_bytes())
    load_mutated()
    return dict(outcomes, peak_growth=_peak_rss_bytes() - baseline)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(run(int(sys.argv[1]), Path(folder), sys.argv[2:] == ["bundles"])))
