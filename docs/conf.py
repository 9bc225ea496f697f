"""Sphinx configuration for sklnn's documentation (``make docs``).

The example gallery runs ``examples/*.py``; with ``SKLNN_EXAMPLES_QUICK=1`` (the default of
``make docs`` and of the docs test) every example gets ``--quick`` and the gallery builds in a
minute or two on two cores. ``SKLNN_EXAMPLES_QUICK=0`` runs the examples at full length (about an
hour on two CPU cores), as they are run by hand. Either way each example's page also shows the
committed results of a full-length run (``docs/full_runs/``, ``make gallery-results``).
"""

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import sklnn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_sphinxext"))

project = "sklnn"
author = "the sklnn developers"
copyright = "the sklnn developers"
release = sklnn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
smartquotes_action = "qe"  # quotes and ellipses only: "--quick" stays two hyphens
templates_path = ["_templates"]
exclude_patterns = ["_build", "_sphinxext", "full_runs", "Thumbs.db", ".DS_Store"]

# -- API reference: one page per public name, from each public package's __all__ -------------
autosummary_generate = True
autosummary_ignore_module_all = False  # document what __all__ lists, imported or not
autosummary_imported_members = True
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # the class template lists methods itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Names re-exported at the top level get their page there; the subpackage pages link to it.
autosummary_context = {"toplevel": sorted(set(sklnn.__all__))}

# -- Markdown guides ---------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Example gallery ---------------------------------------------------------------------------
QUICK = os.environ.get("SKLNN_EXAMPLES_QUICK", "1") not in ("", "0")
# The examples save their figures here; sklnn_gallery.saved_figures moves them into the gallery.
os.environ["SKLNN_EXAMPLES_OUTPUT"] = tempfile.mkdtemp(prefix="sklnn-gallery-")
os.environ["SKLNN_EXAMPLES_QUICK"] = "1" if QUICK else "0"

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    # every example runs except the CIFAR-10 one, which needs the dataset's files (and a GPU)
    "filename_pattern": r"/(?!resnet_cifar10)[^/]+\.py$",
    "ignore_pattern": r"__init__\.py",
    "image_scrapers": ("sklnn_gallery.saved_figures",),
    "reset_argv": "sklnn_gallery.reset_argv",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "plot_gallery": "True",
    "capture_repr": (),
}

# -- Figures drawn while the site builds (the plots guide) -----------------------------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (6, 3.6)}

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklnn {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 4,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "coming_from_*": []}
html_show_sourcelink = False


# -- Hooks ---------------------------------------------------------------------------------------
# A bare name ending in "_" inside a shape, as in "ndarray of shape (n_features_in_,)", is a reST
# reference to a target that does not exist (docutils: 'Unknown target name: "n_features_in"').
# Such names in sklnn's docstrings become literals here; scikit-learn writes (`n_features_in_`,).
_BARE_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=,|\))")


def _literal_trailing_underscores(app, what, name, obj, options, lines):
    if name.startswith("sklnn."):
        lines[:] = [_BARE_TRAILING_UNDERSCORE.sub(r"``\1``", line) for line in lines]


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members scikit-learn or PyTorch define: their own documentation covers them."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module and not module.startswith("sklnn"):
        return True
    return None


def _remove_example_output(app, exception):
    shutil.rmtree(os.environ["SKLNN_EXAMPLES_OUTPUT"], ignore_errors=True)


def setup(app):
    from sklnn_gallery import add_full_runs

    app.connect("source-read", add_full_runs)
    app.connect("autodoc-process-docstring", _literal_trailing_underscores)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("build-finished", _remove_example_output)
