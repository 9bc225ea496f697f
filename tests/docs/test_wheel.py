"""The package installs as users install it: an sdist and a wheel that pass ``twine check``, and
the wheel, installed (not editable) into a fresh venv, runs the README's quick start from a
folder outside the source tree.

The venv borrows this environment's installed dependencies (torch, numpy, ...) through a
``.pth`` file instead of downloading them again; only sklnn comes from the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


# Without PYTHONPATH: a source tree on it would count as sklnn installed (to pip) or imported.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(command, **kwargs):
    kwargs.setdefault("env", CLEAN_ENV)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n" \
                                   f"{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """``python -m build`` on a copy of what the build reads: sdist first, the wheel from it."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.cfg", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "sklnn", source / "sklnn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend (setuptools) comes from this environment, no download
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        cwd=source)
    return out


def test_sdist_and_wheel_metadata_pass_twine_check(dist):
    files = sorted(dist.iterdir())
    assert {path.suffix for path in files} == {".gz", ".whl"}, files
    output = run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)])
    assert output.count("PASSED") == 2, output


def test_wheel_holds_the_package_its_data_and_py_typed_only(dist):
    wheel = next(dist.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("sklnn/py.typed", "sklnn/datasets/data/t10k-images-idx3-ubyte.gz",
                 "sklnn/datasets/data/t10k-labels-idx1-ubyte.gz", "sklnn/__init__.py"):
        assert name in names, name
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"sklnn", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1]
                    + ".dist-info"}, tops  # no examples/, tests/, benchmarks/, docs/
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    assert b"Requires-Dist: torch" in metadata
    assert b"Requires-Dist: sphinx" not in metadata.split(b"Provides-Extra")[0]


def test_wheel_installed_in_a_fresh_venv_runs_the_quick_start(dist, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(run([str(python), "-c", where]).strip())
    # This environment's dependencies, after the venv's own site-packages (so the wheel's
    # sklnn comes first). Paths in a .pth file are added as they are: the .pth files inside
    # them (an editable sklnn among them) are not run.
    borrowed = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    (purelib / "borrowed_dependencies.pth").write_text("\n".join(dict.fromkeys(borrowed)) + "\n")
    wheel = next(dist.glob("*.whl"))
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)])

    readme = (ROOT / "README.md").read_text()
    quick_start = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    check = (
        "import sklnn, sklnn.datasets\n"
        f"assert sklnn.__file__.startswith({str(purelib)!r}), sklnn.__file__\n"
        "assert sklnn.datasets.load_mnist_test().data.shape == (10000, 28, 28)\n"
    )
    work = tmp_path / "elsewhere"  # outside the source tree: nothing to import sklnn from
    work.mkdir()
    output = run([str(python), "-c", check + quick_start], cwd=work,
                 env={**CLEAN_ENV, "MPLBACKEND": "Agg"})
    assert float(output.strip().splitlines()[-1]) > 0.95
