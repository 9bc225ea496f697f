"""Model files from strangers: every known attack is refused with a ModelFileError
naming what was wrong, before the memory it asks for is allocated."""

import copy
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _model_files import bomb_member, npz_bomb, read, write
from conftest import outputs
from tolerances import F32_OUTPUT

import sklnn
from sklnn.engine.devices import saved_device
from sklnn.persistence import ModelFileError
from sklnn.persistence._codec import encode

FORMAT1 = Path(__file__).parent / "data" / "format1"
# Peak memory a refused (or tiny) file may add to the loading process: the budget's floor
# is 256 MiB, and none of these files comes near it when nothing is allocated for them.
MAX_GROWTH = 160 * 2**20


def _edit(path, out, change=None, **fitted):
    metadata, weights = read(path)
    for key, value in fitted.items():
        metadata["fitted"][key] = encode(value, key)
    if change is not None:
        change(metadata)
    return write(out, metadata, weights)


def _set(key, value, where=None):
    def change(metadata):
        (metadata if where is None else metadata[where])[key] = value
    return change


def _attacks(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the error must say)."""
    mlp = FORMAT1 / "MLPClassifierGPU.sklnn"
    multilabel = FORMAT1 / "MLPClassifierGPU-multilabel.sklnn"
    cnn = FORMAT1 / "CNNImageClassifier.sklnn"
    metadata, weights = read(mlp)
    text = json.dumps(metadata).encode()
    deep = json.dumps(dict(metadata, params=dict(metadata["params"], verbose="DEEP")))
    huge_int = json.dumps(dict(metadata, fitted=dict(metadata["fitted"], n_iter_="HUGE")))
    latin = dict(metadata, sklnn_version="0.1.0-\u00e9")
    attacks = {
        "metadata zip bomb": (bomb_member(folder / "bomb", "metadata.json", text, 2**28, b"",
                                          [("weights.npz", weights)]), "zip bomb"),
        "inner npz bomb": (write(folder / "npz-bomb", metadata, npz_bomb(weights, 2**27)),
                           "weights.npz declares"),
        "12000x12000 fitted array": (_edit(mlp, folder / "array", classes_=np.random.RandomState(
            0).rand(300, 300)), "1-D array"),
        "unexpected fitted attribute": (_edit(mlp, folder / "extra-attr", evil_=np.zeros(9)),
                                        "no attributes \\['evil_'\\]"),
        "hidden_layer_sizes (40000, 40000)": (
            _edit(mlp, folder / "wide", _set("hidden_layer_sizes", [40000, 40000], "params"),
                  n_layers_=4),
            "needs 12,80"),
        "40,000 classes": (_edit(multilabel, folder / "classes", classes_=np.arange(40000),
                                 n_outputs_=40000), "declares"),
        # n_outputs_ was used to build an array before it was compared with
        # classes_ (+2 GiB for 2**28; a bare MemoryError for 2**31)
        "multilabel n_outputs_ 2**28, 2 classes": (
            _edit(multilabel, folder / "outputs", classes_=np.arange(2), n_outputs_=2**28),
            "classes_ are 0..1"),
        "RNNClassifier n_outputs_ 2**31": (
            _edit(FORMAT1 / "RNNClassifier.sklnn", folder / "rnn-outputs",
                  _set("label_type", "multilabel-indicator"), classes_=np.arange(2),
                  n_outputs_=2**31), "classes_ are 0..1"),
        # These loaded
        "n_layers_ 999": (_edit(mlp, folder / "layers", n_layers_=999), "n_layers_ is 999"),
        "horizon_ 5 for one output": (
            _edit(FORMAT1 / "RNNForecaster.sklnn", folder / "horizon", horizon_=5),
            "horizon_=5 does not agree"),
        "format_version with a terminal escape": (
            _edit(mlp, folder / "escape", lambda m: m.update(
                format_version=99, sklnn_version="\x1b[2J\x1b[31mpwned")),
            "written by sklnn \\?;"),
        "CNN input_shape_ (1, 6000, 6000)": (
            _edit(cnn, folder / "cnn-shape", input_shape_=(1, 6000, 6000),
                  n_features_in_=36_000_000), "declares"),
        "duplicate metadata.json": (write(folder / "dup", metadata, weights,
                                          extra=[("metadata.json", b"{}")]), "each once"),
        "unexpected member": (write(folder / "member", metadata, weights,
                                    extra=[("run.py", b"import os")]), "expected exactly"),
        "non-UTF-8 metadata": (write(folder / "latin", latin, weights, metadata_bytes=json.dumps(
            latin, ensure_ascii=False).encode("latin-1")), "not UTF-8"),
        "deep nesting": (write(folder / "deep", metadata, weights, metadata_bytes=deep.replace(
            '"DEEP"', "[" * 100_000 + "]" * 100_000).encode()), "nested deeper"),
        "metadata is a list": (write(folder / "list", metadata, weights,
                                     metadata_bytes=b"[1, 2]"), "must hold an object"),
        "estimator name is a list": (_edit(mlp, folder / "name", _set("estimator",
                                                                      ["MLPClassifierGPU"])),
                                     "not one of sklnn's estimators"),
        "4,301-digit integer": (write(folder / "int", metadata, weights, metadata_bytes=huge_int
                                      .replace('"HUGE"', "9" * 4301).encode()), "4301 digits"),
        "trained_on bogus": (_edit(mlp, folder / "bogus", _set("trained_on", "bogus")),
                             "trained_on"),
        "trained_on null": (_edit(mlp, folder / "null", _set("trained_on", None)), "trained_on"),
        "compute_dtype complex64": (_edit(mlp, folder / "complex",
                                          _set("compute_dtype", "complex64")), "compute_dtype"),
        "format_version true": (_edit(mlp, folder / "true", _set("format_version", True)),
                                "model format True"),
        "format_version -7": (_edit(mlp, folder / "minus", _set("format_version", -7)),
                              "model format -7"),
        "bool as an int": (_edit(mlp, folder / "bool", n_outputs_=True), "n_outputs_"),
        "label type of a regressor": (_edit(mlp, folder / "label", _set("label_type", None)),
                                      "classes_ and a label_type"),
        "out_activation_ edited": (_edit(mlp, folder / "act", out_activation_="softmax"),
                                   "out_activation_"),
    }
    return attacks


@pytest.fixture(scope="module")
def attacks(tmp_path_factory):
    return _attacks(tmp_path_factory.mktemp("attacks"))


def test_every_attack_is_a_model_file_error_naming_the_problem(attacks):
    for name, (path, message) in attacks.items():
        with pytest.raises(ModelFileError, match=message):
            sklnn.load(path)
        assert name


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="peak memory is read from /proc and ru_maxrss in KiB (Linux)")
def test_attacks_allocate_nothing_they_ask_for(attacks, tmp_path):
    """One child process loads the good file, then every attack: its peak memory barely
    moves, although the files ask for 0.5-12 GiB. A ResNet (global pooling) with an input
    shape of 6000x6000 loads: the shape costs nothing until predict is called."""
    metadata, weights = read(FORMAT1 / "ResNetClassifier.sklnn")
    metadata["fitted"]["input_shape_"] = encode((1, 6000, 6000), "")
    metadata["fitted"]["n_features_in_"] = 36_000_000
    resnet = write(tmp_path / "resnet", metadata, weights)
    paths = [FORMAT1 / "MLPClassifierGPU.sklnn", resnet] + [p for p, _ in attacks.values()]
    report = _child(paths)
    outcomes = [report["outcomes"][str(p)]["outcome"] for p in paths]
    assert outcomes[:2] == ["loaded", "loaded"]
    assert all(o.startswith("ModelFileError") for o in outcomes[2:]), outcomes
    assert report["peak_growth"] < MAX_GROWTH, report


def _child(paths) -> dict:
    script = Path(__file__).parent / "_model_files.py"
    result = subprocess.run([sys.executable, str(script), *map(str, paths)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_tampered_file_with_a_recomputed_checksum_loads(tmp_path):
    """The checksum detects corruption, not tampering (docs/persistence.md says so)."""
    metadata, weights = read(FORMAT1 / "MLPRegressorGPU.sklnn")
    good = sklnn.load(FORMAT1 / "MLPRegressorGPU.sklnn")
    with np.load(io.BytesIO(weights)) as arrays:
        state = {name: arrays[name] for name in arrays.files}
    state["output.weight"] = -state["output.weight"]
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    tampered = buffer.getvalue()
    with pytest.raises(ModelFileError, match="checksum"):
        sklnn.load(write(tmp_path / "t1", metadata, tampered, fix_sha=False))
    loaded = sklnn.load(write(tmp_path / "t2", metadata, tampered))
    X = np.load(FORMAT1 / "expected.npz")["X"]
    assert not np.array_equal(loaded.predict(X), good.predict(X))


def test_max_bytes_sets_the_budget(tmp_path):
    path = FORMAT1 / "MLPClassifierGPU.sklnn"
    with pytest.raises(ModelFileError, match="budget of 0.0 MiB.*max_bytes"):
        sklnn.load(path, max_bytes=1000)
    assert sklnn.load(path, max_bytes=2**20).n_outputs_ == 1
    for bad in (True, 0, 1.5):
        with pytest.raises(ValueError, match="max_bytes"):
            sklnn.load(path, max_bytes=bad)
    # A zip bomb passes the inflation rule only when the caller raises the budget, and
    # then still has to fit it.
    metadata, weights = read(path)
    bomb = bomb_member(tmp_path / "bomb", "metadata.json", json.dumps(metadata).encode(),
                       2**24, b"", [("weights.npz", weights)])
    with pytest.raises(ModelFileError, match="zip bomb"):
        sklnn.load(bomb)
    with pytest.raises(ModelFileError, match="budget"):
        sklnn.load(bomb, max_bytes=2**28)
    assert sklnn.load(bomb, max_bytes=2**31).n_iter_ == 3


@pytest.mark.parametrize("name", sorted(p.stem for p in FORMAT1.glob("*.sklnn")))
def test_files_written_by_the_previous_sklnn_still_load(name):
    expected = np.load(FORMAT1 / "expected.npz", allow_pickle=False)
    model = sklnn.load(FORMAT1 / f"{name}.sklnn")
    np.testing.assert_allclose(outputs(model, expected["X"]), expected[name], **F32_OUTPUT)


def test_private_helpers_are_not_saved_and_are_recomputed(tmp_path):
    X = np.load(FORMAT1 / "expected.npz")["X"]
    model = sklnn.CNNImageClassifier(filters=(2,), dense_layers=(4,), max_iter=1,
                                     random_state=0).fit(X, X[:, 0] > 0.5)
    costs = model._costs(model.module_)
    model.save(tmp_path / "cnn")
    fitted = read(tmp_path / "cnn")[0]["fitted"]
    assert not any(name.startswith("_") for name in fitted)
    again = sklnn.load(tmp_path / "cnn")
    assert again._costs(again.module_) == costs  # measured again, at the first predict
    assert not any(t.is_meta for t in again.module_.state_dict().values())


def test_only_sklnn_estimators_are_saveable(tmp_path):
    class MLPClassifierGPU(sklnn.MLPClassifierGPU):  # same name, defined outside sklnn
        pass

    X = np.random.RandomState(0).rand(20, 3)
    model = MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=2).fit(X, X[:, 0] > 0.5)
    with pytest.raises(TypeError, match="use pickle"):
        model.save(tmp_path / "m")


def _with_umask(mask, action):
    old = os.umask(mask)
    try:
        return action()
    finally:
        os.umask(old)


def test_files_respect_the_umask_and_keep_an_existing_mode(tmp_path):
    from sklnn.callbacks import Checkpoint

    model = sklnn.load(FORMAT1 / "MLPRegressorGPU.sklnn")
    _with_umask(0o022, lambda: model.save(tmp_path / "shared"))
    _with_umask(0o077, lambda: model.save(tmp_path / "private"))
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o600
    os.chmod(tmp_path / "shared", 0o640)
    _with_umask(0o077, lambda: model.save(tmp_path / "shared"))
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o640
    X = np.random.RandomState(0).rand(30, 16)
    fit = sklnn.MLPRegressorGPU(hidden_layer_sizes=(4,), max_iter=1,
                                callbacks=[Checkpoint(tmp_path / "c" / "ckpt.pt", every=1,
                                                      on_best=False)])
    _with_umask(0o022, lambda: fit.fit(X, X[:, 0]))
    assert (tmp_path / "c" / "ckpt.pt").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "private", "shared"]


def test_one_device_rule_for_load_and_unpickling(tmp_path):
    cuda = torch.cuda.is_available()
    assert saved_device("cpu") == torch.device("cpu")
    assert saved_device("cuda:999") == torch.device("cpu")
    assert saved_device("cuda") == torch.device("cuda" if cuda else "cpu")
    mps = torch.backends.mps.is_available()
    assert saved_device("mps") == torch.device("mps" if mps else "cpu")
    model = sklnn.load(FORMAT1 / "MLPRegressorGPU.sklnn")
    for device in ("cuda:999", "mps", "cuda"):
        state = pickle.loads(pickle.dumps(model)).__getstate__()
        state["device_"] = device
        unpickled = copy.copy(model)
        unpickled.__setstate__(state)
        metadata, weights = read(FORMAT1 / "MLPRegressorGPU.sklnn")
        metadata["trained_on"] = device
        loaded = sklnn.load(write(tmp_path / device.replace(":", "-"), metadata, weights))
        assert unpickled.device_ == loaded.device_ == saved_device(device)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused(tmp_path, bad):
    """A file with NaN or inf weights loaded and predicted class 0 or NaN."""
    metadata, weights = read(FORMAT1 / "MLPClassifierGPU.sklnn")
    with np.load(io.BytesIO(weights)) as arrays:
        state = {name: arrays[name] for name in arrays.files}
    name = sorted(state)[0]
    state[name] = state[name].copy()
    state[name].flat[0] = bad
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    with pytest.raises(ModelFileError, match=f"{name} holds NaN or infinite values"):
        sklnn.load(write(tmp_path / "nan", metadata, buffer.getvalue()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB")
def test_summary_of_a_huge_input_shape_allocates_nothing_for_it(tmp_path):
    """A ResNet file with input_shape_ (1, 32768, 32768) loads (global pooling:
    the weights do not grow with it); summary() then allocated 4 GiB for one zero image.
    It now runs the sample on the meta device: shapes only."""
    import resource

    metadata, weights = read(FORMAT1 / "ResNetClassifier.sklnn")
    metadata["fitted"]["input_shape_"] = encode((1, 32768, 32768), "")
    metadata["fitted"]["n_features_in_"] = 32768**2
    model = sklnn.load(write(tmp_path / "huge", metadata, weights))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    table = str(model.summary())
    assert "(None, 16, 8192, 8192)" in table and "(None, 16, 1, 1)" in table
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before < 2**28
    # the table is the one a real forward gives, where that is cheap
    from sklnn import summary as summary_module

    small = sklnn.load(FORMAT1 / "ResNetClassifier.sklnn")
    shapes_only = str(small.summary())
    real = summary_module._shapes_only
    try:
        summary_module._shapes_only = lambda *args: False
        assert str(small.summary()) == shapes_only
    finally:
        summary_module._shapes_only = real


def test_the_default_budget_follows_the_bytes_on_disk(tmp_path, monkeypatch):
    """The default budget was 4x the weights' declared size, which the file
    writes: a file 40x smaller than the weights it declares loaded whatever they cost
    (above the 256 MiB floor, lowered here to 1 MiB to keep the test small). It now
    follows the file's size on disk; a caller who trusts the file passes max_bytes."""
    import hashlib
    import zipfile

    from sklnn.persistence import _archive

    monkeypatch.setattr(_archive, "MIN_BUDGET", 2**20)
    metadata, _ = read(FORMAT1 / "MLPClassifierGPU.sklnn")
    metadata["params"]["hidden_layer_sizes"] = encode((500,), "")
    metadata["fitted"]["n_features_in_"] = 500
    shapes = {"hidden.0.0.weight": (500, 500), "hidden.0.0.bias": (500,),
              "output.weight": (1, 500), "output.bias": (1,)}
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, shape in shapes.items():
            with archive.open(f"{name}.npy", "w") as handle:
                np.lib.format.write_array_header_1_0(
                    handle, {"descr": "<f8", "fortran_order": False, "shape": shape})
                # one row in 40 random: deflates about 40x, within the inflation rule
                zeros = np.zeros((1, *shape[1:]))
                noise = np.random.RandomState(0).rand(1, *shape[1:])
                for row in range(shape[0]):
                    handle.write((noise if row % 40 == 0 else zeros).tobytes())
    metadata["weights_sha256"] = hashlib.sha256(npz.getvalue()).hexdigest()
    path = tmp_path / "mostly-zeros.sklnn"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.npz", npz.getvalue())
    assert path.stat().st_size * 20 < len(npz.getvalue())
    with pytest.raises(ModelFileError, match="needs about \\d\\.\\d MiB.*budget of 1.0 MiB "
                                             "\\(the default is 4x the file's size on disk"):
        sklnn.load(path)
    assert sklnn.load(path, max_bytes=2**23).n_features_in_ == 500
