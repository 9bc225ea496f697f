"""sphinx-gallery hooks for sklnn's examples (named by string in docs/conf.py).

The examples save their figures with ``savefig`` into ``$SKLNN_EXAMPLES_OUTPUT`` and close them,
as a script run by hand should; sphinx-gallery's matplotlib scraper only sees open figures, so
``saved_figures`` collects the saved files instead.
"""

import os
import shutil
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst


def reset_argv(gallery_conf, script_vars):
    """Command-line arguments for each example: ``--quick`` unless the full gallery is asked."""
    return ["--quick"] if os.environ.get("SKLNN_EXAMPLES_QUICK", "1") != "0" else []


def saved_figures(block, block_vars, gallery_conf):
    """Move the images an example block saved into the gallery and return their reST."""
    import matplotlib.pyplot as plt

    plt.close("all")  # figures left open are the example's business, not the next one's
    output = Path(os.environ["SKLNN_EXAMPLES_OUTPUT"])
    saved = sorted(output.glob("*.png"), key=lambda path: (path.stat().st_mtime, path.name))
    targets = []
    for path, target in zip(saved, block_vars["image_path_iterator"]):
        shutil.move(path, target)
        targets.append(target)
    return figure_rst(targets, gallery_conf["src_dir"])
