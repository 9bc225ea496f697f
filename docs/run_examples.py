"""Run the examples at full length and keep what they print and draw for the gallery.

``make gallery-results`` (``python docs/run_examples.py``) runs every example in
``examples/`` as a user would, ``python examples/NAME.py`` without ``--quick``, each in its own
process, and writes into ``docs/full_runs/NAME/``: the figures it draws, ``output.txt`` (what it
printed) and ``run.json`` (when, on which machine, with which versions, how long, the load
average, and the exact command). The documentation shows them on each example's page next to
the quick run that the docs build executes (``docs/_sphinxext/sklnn_gallery.py``).

Usage::

    python docs/run_examples.py                     # all of them: about an hour on 2 CPU cores
    python docs/run_examples.py cnn_mnist demo      # some of them
    python docs/run_examples.py cnn_mnist -- --epochs 8   # arguments for the example (recorded)

The CIFAR-10 example needs the dataset's files and a GPU; instead of running it, this draws the
published results it is compared with (He et al. 2015, Table 6), labelled as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RESULTS = Path(__file__).resolve().parent / "full_runs"
NOT_RUN = {"resnet_cifar10": "needs the CIFAR-10 files (not shipped) and, at full length, a GPU"}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    sys.path.insert(0, str(ROOT))  # the sklnn the examples ran with
    import numpy
    import sklearn
    import torch

    import sklnn

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return dict(sklnn=sklnn.__version__, commit=commit, torch=torch.__version__,
                sklearn=sklearn.__version__, numpy=numpy.__version__,
                python=platform.python_version())


def machine() -> dict:
    return dict(cpu=cpu_model(), cores=os.cpu_count(), platform=platform.platform())


def run_example(name: str, extra: list[str]) -> dict:
    out = RESULTS / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    command = [sys.executable, f"examples/{name}.py", *extra]
    env = {**os.environ, "SKLNN_EXAMPLES_OUTPUT": str(out), "SKLNN_EXAMPLES_QUICK": "0",
           "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
               [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()[0]
    clock = time.perf_counter()
    lines = []
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                          bufsize=1) as process:
        for line in process.stdout:  # shown as it comes, kept for the page
            print(f"  {name}: {line}", end="", flush=True)
            lines.append(line)
    if process.returncode != 0:
        raise SystemExit(f"{name} failed (exit code {process.returncode}); nothing kept.")
    (out / "output.txt").write_text("".join(lines))
    record = dict(
        example=name,
        command=" ".join(["python", f"examples/{name}.py", *extra]),
        started_utc=started.strftime("%Y-%m-%d %H:%M"),
        duration_s=round(time.perf_counter() - clock, 1),
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
        machine=machine(),
        versions=versions(),
        figures=sorted(path.name for path in out.glob("*.png")),
        tables=sorted(path.name for path in out.glob("*.csv")),
    )
    (out / "run.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def published_cifar10() -> dict:
    """The paper's results the CIFAR-10 example compares with, drawn (nothing is run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(EXAMPLES))
    from resnet_cifar10 import PAPER_TEST_ERROR

    out = RESULTS / "resnet_cifar10"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    depths = sorted(PAPER_TEST_ERROR)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(depths, [PAPER_TEST_ERROR[d] for d in depths], "o-")
    for depth in depths:
        ax.annotate(f"{PAPER_TEST_ERROR[depth]:.2f}%", (depth, PAPER_TEST_ERROR[depth]),
                    textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set(xlabel="depth (layers)", ylabel="CIFAR-10 test error (%)",
           title="Published: He et al. (2015), Table 6", xticks=depths)
    ax.margins(y=0.2)
    fig.tight_layout()
    fig.savefig(out / "resnet_cifar10.png", dpi=110)
    plt.close(fig)
    record = dict(example="resnet_cifar10", not_run=NOT_RUN["resnet_cifar10"],
                  figures=["resnet_cifar10.png"], tables=[])
    (out / "run.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("names", nargs="*", help="examples to run (default: all)")
    args = parser.parse_args(argv)
    names = args.names or sorted(path.stem for path in EXAMPLES.glob("*.py"))
    for name in names:
        if not (EXAMPLES / f"{name}.py").is_file():
            raise SystemExit(f"no example examples/{name}.py")
        if name in NOT_RUN:
            published_cifar10()
            print(f"{name}: not run ({NOT_RUN[name]}); the published results drawn")
            continue
        record = run_example(name, extra)
        print(f"{name}: {record['duration_s']:.0f} s, kept in docs/full_runs/{name}/",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
