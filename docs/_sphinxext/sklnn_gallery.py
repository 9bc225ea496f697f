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


# -- Results of the full-length runs (docs/run_examples.py) on each example's page -----------
FULL_RUNS = Path(__file__).resolve().parents[1] / "full_runs"
_CODE = "\n.. GENERATED FROM PYTHON SOURCE LINES"
_OUTPUT = "\n.. rst-class:: sphx-glr-script-out"


def _indent(text: str, spaces: int = 3) -> str:
    return "\n".join((" " * spaces + line) if line.strip() else "" for line in text.splitlines())


def _csv_table(path: Path) -> str:
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    body = "\n".join(", ".join('"' + cell.replace('"', '""') + '"' for cell in row)
                     for row in rows)
    return f".. csv-table::\n   :header-rows: 1\n\n{_indent(body)}\n"


def _stamp(run: dict) -> str:
    machine, versions = run["machine"], run["versions"]
    minutes = run["duration_s"] / 60
    took = f"{minutes:.0f} minutes" if minutes >= 2 else f"{run['duration_s']:.0f} s"
    commit = f", commit ``{versions['commit']}``" if versions.get("commit") else ""
    text = (f"``{run['command']}``, run by ``make gallery-results`` on {run['started_utc']} UTC: "
            f"{machine['cpu']}, {machine['cores']} cores, CPU only, load average "
            f"{run['load_before']:.1f} at the start and {run['load_after']:.1f} at the end "
            f"(the machine is shared: wall times are longer than on a quiet one); torch "
            f"{versions['torch']}, scikit-learn {versions['sklearn']}, sklnn "
            f"{versions['sklnn']}{commit}. It took {took}.")
    if run.get("note"):
        text += f" {run['note']}"
    return text


def full_run_section(name: str) -> str:
    """reST for an example's committed full-length run, or "" when there is none."""
    folder = FULL_RUNS / name
    if not (folder / "run.json").is_file():
        return ""
    import json

    run = json.loads((folder / "run.json").read_text())
    parts = []
    if run.get("not_run"):
        title = "Not run for this page"
        parts.append(f"This example {run['not_run']}, so the documentation shows it without "
                     "running it. The results a full run is compared with, as published:")
    else:
        title = "Results of a full-length run"
        parts.append(_stamp(run) + " What it printed and drew:")
    for table in run.get("tables", []):
        parts.append(_csv_table(folder / table))
    for figure in run.get("figures", []):
        parts.append(f".. image:: /full_runs/{name}/{figure}\n   :alt: {figure}\n"
                     "   :class: sphx-glr-single-img")
    if (folder / "output.txt").is_file():
        parts.append(".. code-block:: none\n\n" + _indent((folder / "output.txt").read_text()))
    return f"{title}\n{'-' * len(title)}\n\n" + "\n\n".join(parts) + "\n\n"


QUICK_RUN_NOTE = (
    "The quick run and the code\n--------------------------\n\nThe documentation runs this "
    "script with ``--quick`` (small data, few epochs) to check that it works: the figures and "
    "output just below are that smoke run, not a result (the full-length run's are above). "
    "The code follows them.\n\n"
)


def add_full_runs(app, docname, source):
    """Put the full-length results on an example's page, before its code and quick run."""
    if not docname.startswith("auto_examples/") or docname.endswith("/index"):
        return
    text = source[0]
    section = full_run_section(docname.split("/", 1)[1])
    if not section or _CODE not in text:
        return
    head, tail = text.split(_CODE, 1)
    note = QUICK_RUN_NOTE if _OUTPUT in tail else "The code\n--------\n\n"
    source[0] = f"{head}\n{section}{note}{_CODE.lstrip(chr(10))}{tail}"
