"""The documentation site builds with warnings as errors, documents every public name, and renders.

One Sphinx build (quick gallery: every example runs with ``--quick``) into a temporary folder;
the sources are copied there first, because autosummary and sphinx-gallery write generated
pages next to them. The rendered pages are then opened in headless Chromium (Debian's
``chromium``), which the tests start and stop themselves.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sklnn
import sklnn.callbacks
import sklnn.data
import sklnn.datasets
import sklnn.engine
import sklnn.estimators
import sklnn.export
import sklnn.history
import sklnn.inspection
import sklnn.modules
import sklnn.parallel
import sklnn.persistence
import sklnn.plot
import sklnn.summary

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_PACKAGES = [sklnn, sklnn.callbacks, sklnn.data, sklnn.datasets, sklnn.summary,
                   sklnn.history, sklnn.persistence, sklnn.export, sklnn.parallel, sklnn.plot,
                   sklnn.estimators, sklnn.modules, sklnn.engine, sklnn.inspection]
# Examples that save figures, and how many (the CIFAR-10 one is shown but not run).
FIGURES = {"cnn_mnist": 2, "demo": 1, "deploy_onnx": 1, "gaussian_blobs": 1,
           "internal_covariate_shift": 2, "mnist_mlp": 1, "resnet_degradation": 1,
           "resnet_mnist": 1, "rnn_forecasting": 1}
BUILD_TIMEOUT_S = 600  # a hang must not block the suite; the build takes 1-2 minutes on 2 cores


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("docs")
    generated = shutil.ignore_patterns("_build", "generated", "auto_examples",
                                       "sg_execution_times.rst", "output", "__pycache__")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=generated)
    shutil.copytree(ROOT / "examples", work / "examples", ignore=generated)
    html = work / "html"
    env = {**os.environ, "SKLNN_EXAMPLES_QUICK": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(work / "docs"), str(html)],
        env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"the docs build failed or warned (warnings are errors):\n{result.stderr[-6000:]}"
    )
    return html


def public_callables():
    """(package, name, object) for every class and function each public package exports."""
    for package in PUBLIC_PACKAGES:
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield package.__name__, name, obj


def api_page(site: Path, package: str, name: str) -> tuple[Path, str]:
    """A name's page, and its anchor: names the top level re-exports are documented there."""
    qualified = f"sklnn.{name}" if name in sklnn.__all__ else f"{package}.{name}"
    return site / "generated" / f"{qualified}.html", qualified


def test_every_public_class_and_function_has_an_api_page(site):
    names = list(public_callables())
    assert len(names) > 40  # the six estimators, callbacks, modules, datasets, engine, ...
    api_index = (site / "api.html").read_text()
    for package in PUBLIC_PACKAGES:
        assert f'href="generated/{package.__name__}.html"' in api_index
    for package, name, _ in names:
        page, qualified = api_page(site, package, name)
        assert page.is_file(), f"{qualified} has no API page"
        # autodoc's anchor: the page documents the object itself, not just a title
        assert f'id="{qualified}"' in page.read_text(), f"{page.name} does not document it"


def test_estimator_pages_document_their_methods(site):
    for name in ("MLPClassifierGPU", "CNNImageClassifier", "RNNForecaster"):
        text = (site / "generated" / f"sklnn.{name}.html").read_text()
        for method in ("fit", "predict", "save", "summary"):
            assert f'id="sklnn.{name}.{method}"' in text
    assert 'id="sklnn.RNNForecaster.forecast"' in (
        site / "generated" / "sklnn.RNNForecaster.html").read_text()


def test_gallery_has_every_example_and_its_figures(site):
    examples = sorted(path.stem for path in (ROOT / "examples").glob("*.py"))
    gallery = (site / "auto_examples" / "index.html").read_text()
    for stem in examples:
        assert (site / "auto_examples" / f"{stem}.html").is_file()
        assert f'href="{stem}.html"' in gallery
    for stem, count in FIGURES.items():
        page = (site / "auto_examples" / f"{stem}.html").read_text()
        for number in range(1, count + 1):
            image = f"sphx_glr_{stem}_{number:03d}.png"
            assert (site / "_images" / image).stat().st_size > 5000, image
            assert image in page
    # the quick runs printed their results into the pages
    assert "test accuracy" in (site / "auto_examples" / "mnist_mlp.html").read_text()


def test_every_example_page_shows_a_full_length_run_before_its_quick_run(site):
    for path in sorted((ROOT / "examples").glob("*.py")):
        stem = path.stem
        run = ROOT / "docs" / "full_runs" / stem / "run.json"
        assert run.is_file(), f"{stem} has no full-length run: make gallery-results"
        page = (site / "auto_examples" / f"{stem}.html").read_text()
        figures = json.loads(run.read_text())["figures"]
        assert figures, f"{stem}'s full run drew nothing"
        for figure in figures:  # the committed figures, copied into the site
            assert f'src="../_images/{figure}"' in page, (stem, figure)
        if stem == "resnet_cifar10":  # shown, not run
            assert "Not run for this page" in page
            continue
        full = page.index("Results of a full-length run")
        assert re.search(r"make</span>\s*<span[^>]*>gallery-results", page[full:]), stem
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", page[full:]), stem  # dated
        assert "torch " in page[full:] and "cores" in page[full:]  # versions and machine
        quick = page.index("sphx-glr-script-out")  # the quick run's output, before the code
        quick_output = page[quick:page.index("highlight-Python", quick)]
        assert full < quick and "quick run" in quick_output, stem
        # no temporary path, and no full-length target beside a smoke run's score
        assert "/tmp/" not in page and "target &gt;=" not in quick_output, stem
    rnn = (site / "auto_examples" / "rnn_forecasting.html").read_text()
    assert "<table" in rnn and "seq-to-vector RNN</p></td>" in rnn.replace("\n", "")


def test_every_example_has_a_thumbnail_of_its_own(site):
    from matplotlib.image import imread

    thumbs = {}
    for path in sorted((ROOT / "examples").glob("*.py")):
        thumb = site / "_images" / f"sphx_glr_{path.stem}_thumb.png"
        assert thumb.is_file(), path.stem
        thumbs[path.stem] = imread(thumb)
    # sphinx-gallery's placeholder is one and the same picture; real thumbnails all differ
    pictures = {stem: pixels.tobytes() for stem, pixels in thumbs.items()}
    assert len(set(pictures.values())) == len(pictures), "a placeholder or a shared thumbnail"


def test_the_plots_guide_draws_each_display(site):
    page = (site / "watching.html").read_text()
    images = re.findall(r'<img[^>]+src="(_images/[^"]+\.png)"', page)
    assert len(images) == 3, images
    for image in images:
        assert (site / image).stat().st_size > 5000, image


# ------------------------------------------------------------------------ headless Chromium
@pytest.fixture(scope="module")
def chromium():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing on CI: .ci/run installs Debian's `chromium`.")
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; "
                    ".ci/run installs it on CI)")
    return executable


def run_chromium(executable: str, tmp_path: Path, *args: str) -> str:
    """Start headless Chromium on one page, wait for it, and stop all its processes."""
    command = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path}",
               *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=120)
    finally:
        try:  # the browser's helper processes share its session; none may outlive the test
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    assert process.returncode == 0, err[-3000:]
    return out


def test_index_page_renders_in_chromium(site, chromium, tmp_path):
    dom = run_chromium(chromium, tmp_path, "--dump-dom", (site / "index.html").as_uri())
    assert re.search(r"<title>sklnn\b[^<]*</title>", dom)
    table = re.search(r'<table class="[^"]*estimator-table.*?</table>', dom, re.S)
    assert table, "the estimator table is missing"
    for name in ("MLPClassifierGPU", "MLPRegressorGPU", "CNNImageClassifier",
                 "ResNetClassifier", "RNNForecaster", "RNNClassifier"):
        assert f'href="generated/sklnn.{name}.html' in table.group(0), name
    assert 'src="_images/sphx_glr_gaussian_blobs_001.png"' in dom

    from matplotlib.image import imread

    shot = tmp_path / "index.png"
    # tall enough for the whole page, whatever the fonts do to the layout
    run_chromium(chromium, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}",
                 (site / "index.html").as_uri())
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500  # text, table, figure
    # The gallery figure loaded: its red and blue decision regions (matplotlib's coolwarm)
    # cover about 30,000 pixels each; the theme alone has none (an API page counts 0 and 0).
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    reddish = np.count_nonzero((red - blue > 0.2) & (red - green > 0.2))
    bluish = np.count_nonzero((blue - red > 0.2) & (blue - green > 0.15))
    assert reddish > 10_000 and bluish > 10_000, (reddish, bluish)


def test_api_page_renders_in_chromium(site, chromium, tmp_path):
    page = site / "generated" / "sklnn.MLPClassifierGPU.html"
    dom = run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert re.search(r"<title>MLPClassifierGPU\b[^<]*</title>", dom)
    for anchor in ("sklnn.MLPClassifierGPU", "sklnn.MLPClassifierGPU.fit",
                   "sklnn.MLPClassifierGPU.predict_proba"):
        assert f'id="{anchor}"' in dom
    assert "hidden_layer_sizes" in dom
    # the theme's navigation lists the other estimators next to this one
    for name in ("MLPRegressorGPU", "CNNImageClassifier", "RNNForecaster"):
        assert f"sklnn.{name}.html" in dom


def test_readme_where_things_are_renders_as_one_table():
    from markdown_it import MarkdownIt  # myst-parser's Markdown parser

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    html = MarkdownIt("commonmark").enable("table").render(section)
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert html.count("<table>") == 1
    assert html.count("<tr>") == len(rows) - 1  # all rows but the |---| delimiter


def test_cifar10_example_runs_in_quick_mode_on_files_in_cifar_format(tmp_path):
    """The one example the gallery shows without running: CIFAR-10's files are not shipped."""
    import pickle

    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (40, 3 * 32 * 32), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, 40).tolist()}
        with open(tmp_path / name, "wb") as handle:
            pickle.dump(batch, handle)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "resnet_cifar10.py"), "--data", str(tmp_path),
         "--quick"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"ResNet-20: test error \d+\.\d+% \(quick run\)", result.stdout)
