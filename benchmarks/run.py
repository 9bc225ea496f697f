"""``python -m benchmarks.run [--quick] [--only NAME ...] [--repeats N] [--device D]``.

``--predict-memory`` measures only the peak memory of a large predict_proba
(benchmarks/predict_memory.py) and writes ``benchmarks/results/predict-memory-<timestamp>.json``.

``--only search`` runs the model-search workload (``benchmarks/search.py``).

A full run of everything (``make bench``: no ``--quick``, no ``--only``) also measures predict
memory and the model search, and regenerates every table README.md and docs/benchmarks.md
show from a CPU run, each stamped with its date, machine and versions (the GPU table needs
``python -m benchmarks.gpu_throughput`` on a GPU).

For every workload and repeat, each implementation is measured in its own
forked child, in an order rotated from one repeat to the next (so slow drift
in machine load spreads over everyone). Results go to
``benchmarks/results/<mode>-<timestamp>.json``; the Markdown tables go to
``benchmarks/results/latest.md``, README.md and docs/benchmarks.md (full runs,
or ``--publish``) or ``benchmarks/results/quick.md`` (quick runs).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import report
from benchmarks.implementations import IMPLEMENTATIONS
from benchmarks.measure import machine_info, measure, run_in_child
from benchmarks.workloads import all_workloads

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller data and fewer epochs (a few minutes)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only workloads whose name contains one of these strings")
    parser.add_argument("--implementations", nargs="*", default=None,
                        help=f"subset of {sorted(IMPLEMENTATIONS)}")
    parser.add_argument("--repeats", type=int, default=None,
                        help="override every workload's number of repeats")
    parser.add_argument("--device", default="auto", help="device for the torch-based runs")
    parser.add_argument("--publish", action="store_true",
                        help="also update latest.md, README.md and docs/ from a quick run")
    parser.add_argument("--no-publish", action="store_true",
                        help="write only the JSON and results/quick.md, even for a full run")
    parser.add_argument("--predict-memory", action="store_true",
                        help="measure only predict_proba's peak memory at 1M and 2M rows")
    parser.add_argument("--render", metavar="JSON", default=None,
                        help="measure nothing: regenerate the tables from a results file")
    return parser.parse_args(argv)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")


def run(args) -> dict:
    mode = "quick" if args.quick else "full"
    notes = ["measured in float32 everywhere: sklnn computes in the input's dtype on the CPU, "
             "as scikit-learn does."]
    implementations = list(args.implementations or IMPLEMENTATIONS)
    if "skorch" in implementations and importlib.util.find_spec("skorch") is None:
        implementations.remove("skorch")
        note = "skorch is not installed (pip install -e '.[bench]'): its columns are skipped."
        print(note)
        notes.append(note)
    workloads = all_workloads(args.quick)
    if args.only:
        workloads = [w for w in workloads if any(s.lower() in w.name.lower() for s in args.only)]
    started = _now()
    load_start = os.getloadavg()[0]
    machine = machine_info(args.device)
    print(f"{mode} run on {machine.get('cpu')}, device {machine.get('device')}, "
          f"torch {machine.get('torch')}, load {load_start:.2f}", flush=True)
    records = []
    for workload in workloads:
        impls = [i for i in workload.implementations if i in implementations]
        if workload.make_sklearn is None and "sklearn" in impls:
            impls.remove("sklearn")
        data = workload.make_data()
        repeats = args.repeats or workload.repeats
        record = dict(name=workload.name, group=workload.group, task=workload.task,
                      description=workload.description, epochs=workload.epochs,
                      batch_size=workload.batch_size, params=workload.params,
                      n_train=int(data["X_train"].shape[0]),
                      n_features=int(data["X_train"].shape[1]),
                      predict_rows=int(data["X_predict"].shape[0]),
                      implementations=impls, runs=[])
        print(f"\n{workload.name}: {record['n_train']:,} x {record['n_features']}, "
              f"{workload.epochs} epochs, batch {workload.batch_size}", flush=True)
        for repeat in range(repeats):
            shift = repeat % len(impls)
            for impl in impls[shift:] + impls[:shift]:
                target = functools.partial(measure, IMPLEMENTATIONS[impl], workload, data,
                                           args.device)
                result = run_in_child(target)
                result.update(implementation=impl, repeat=repeat)
                record["runs"].append(result)
                if "error" in result:
                    print(f"  [{repeat}] {impl:<10} FAILED {result['error']}", flush=True)
                    print(result.get("traceback", ""), file=sys.stderr)
                else:
                    print(f"  [{repeat}] {impl:<10} fit {result['fit_s']:8.3f} s  predict "
                          f"{result['predict_s'] * 1000:8.1f} ms  score {result['score']:.4f}  "
                          f"threads {result['threads']}  load {result['load_before']:.2f}  "
                          f"peak {result['peak_rss_mb']:.0f} MB", flush=True)
        record["summary"] = report.summarize(record)
        for label, ratio in record["summary"]["ratios"].items():
            print(f"  {label:<34} {ratio['median']:6.2f} [{ratio['min']:.2f}-{ratio['max']:.2f}]"
                  f"  target {ratio['target']}")
        records.append(record)
    loads = [r["load_before"] for w in records for r in w["runs"] if "load_before" in r]
    return dict(
        mode=mode,
        started=started,
        finished=_now(),
        machine=machine,
        load={"start": load_start, "end": os.getloadavg()[0],
              "median": statistics.median(loads) if loads else None},
        notes=notes,
        workloads=records,
    )


def publish(payload: dict, markdown: str) -> None:
    (RESULTS / "latest.md").write_text(markdown)
    readme_block = (
        "Measured by `make bench` (`python -m benchmarks.run`); how and what is measured: "
        "[docs/benchmarks.md](docs/benchmarks.md).\n\n" + markdown
    )
    report.replace_block(ROOT / "README.md", readme_block)
    docs = ROOT / "docs" / "benchmarks.md"
    if docs.exists():
        report.replace_block(docs, markdown, heading="## Latest results")


def publish_memory_and_search(machine: dict) -> None:
    """Predict memory and the model search, measured and written into docs/benchmarks.md."""
    from benchmarks import predict_memory, search

    docs = ROOT / "docs" / "benchmarks.md"
    started, load = _now(), os.getloadavg()[0]
    results = predict_memory.run()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    report.write_json(RESULTS / f"predict-memory-{stamp}.json",
                      {"started": started, "machine": machine, "results": results})
    report.replace_block(docs, report.stamp(machine, started, (load, os.getloadavg()[0]))
                         + "\n\n" + predict_memory.markdown(results), name="predict-memory")
    search.main([])  # writes its JSON; the newest one is the one just written
    record = json.loads(max(RESULTS.glob("search-full-*.json")).read_text())
    report.replace_block(docs, report.stamp(machine, record["started"])
                         + "\n\n" + search.markdown(record), name="search")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        payload = json.loads(Path(args.render).read_text())
        for workload in payload["workloads"]:
            workload["summary"] = report.summarize(workload)
        markdown = report.markdown(payload)
        if payload["mode"] == "full" or args.publish:
            publish(payload, markdown)
            print(f"rendered {args.render} into latest.md, README.md and docs/benchmarks.md")
        else:
            (RESULTS / "quick.md").write_text(markdown)
        return 0
    if args.predict_memory:
        from benchmarks import predict_memory

        results = predict_memory.run()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        report.write_json(RESULTS / f"predict-memory-{stamp}.json",
                          {"started": _now(), "machine": machine_info("cpu"), "results": results})
        print(predict_memory.markdown(results))
        return 0
    if args.only and any("search" in s.lower() for s in args.only):
        # the model-search workload (n_jobs=1, loky, Dask) has its own runner and table
        from benchmarks import search

        search.main(["--quick"] if args.quick else [])
        if all("search" in s.lower() for s in args.only):
            return 0
    began = time.perf_counter()
    payload = run(args)
    payload["duration_s"] = time.perf_counter() - began
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    json_path = RESULTS / f"{payload['mode']}-{stamp}.json"
    report.write_json(json_path, payload)
    markdown = report.markdown(payload)
    full_set = payload["mode"] == "full" and not args.only
    if (full_set or args.publish) and not args.no_publish:
        publish(payload, markdown)
        print(f"\nwrote {json_path}, benchmarks/results/latest.md, README.md, docs/benchmarks.md")
        if full_set:
            publish_memory_and_search(payload["machine"])
    else:
        (RESULTS / "quick.md").write_text(markdown)
        print(f"\nwrote {json_path} and benchmarks/results/quick.md")
    print(f"took {payload['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
