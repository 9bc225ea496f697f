"""A model search over processes: ``python -m benchmarks.run --only search`` (or ``python -m
benchmarks.search [--quick]``).

The same 12-fit grid (MNIST MLP, 3 folds x 4 candidates, fixed epochs) runs with
``n_jobs=1``, with ``n_jobs=2`` on joblib's loky backend and on a 2-worker Dask
LocalCluster (one thread each; once with Dask's defaults, once without its
profiler), each in a fresh interpreter (a forked child of a process that imported
loky hung on its first parallel call). Every run does two
searches: the first ("cold", its wall time counted with the workers' start) pays each
process's first fits, the second ("warm", the figure compared) runs on processes that
have fitted before. Recorded per run: both wall times, user and system CPU seconds of
the child and every worker, the threads each fit used
(``n_threads_``, returned through the scorer) and the workers' peak RSS against the
size of X. Worker start-up is measured on its own: the first task on fresh workers
(process start plus ``import sklnn``) against the same task on warm ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
GRID = {"alpha": [1e-4, 1e-3], "learning_rate_init": [1e-3, 2e-3]}
NO_PROFILER = "dask, profiler off"


def _settings(quick: bool) -> dict:
    return dict(hidden=(100,) if quick else (300, 100), epochs=3 if quick else 8,
                n_train=4000 if quick else 8000)


def _status_mb(field: str) -> float | None:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def _scorer(estimator, X, y):
    """Accuracy, and what the fit used, read where it ran."""
    return {"accuracy": estimator.score(X, y), "threads": estimator.n_threads_,
            "worker_peak_rss_mb": _status_mb("VmHWM"), "pid": os.getpid()}


def _probe():
    import sklnn  # noqa: F401 - what a worker imports before its first fit

    return os.getpid(), _status_mb("VmRSS")


def _cpu_seconds() -> tuple[float, float]:
    """User and system CPU seconds of this process and all its live descendants (loky and
    Dask workers). System time is mostly page faults: memory mapped afresh for buffers."""
    import psutil

    me = psutil.Process()
    user, system = me.cpu_times()[:2]
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        user, system = user + times.user, system + times.system
    return user, system


def _search(settings, n_jobs):
    from sklearn.model_selection import GridSearchCV

    from sklnn import MLPClassifierGPU

    model = MLPClassifierGPU(hidden_layer_sizes=settings["hidden"], max_iter=settings["epochs"],
                             tol=0.0, n_iter_no_change=settings["epochs"] + 1, batch_size=200,
                             random_state=0)
    return GridSearchCV(model, GRID, cv=3, scoring=_scorer, refit=False, n_jobs=n_jobs)


def _summary(search, wall, cpu) -> dict:
    results = search.cv_results_
    splits = [f"split{i}_test_" for i in range(3)]
    threads = sorted({int(results[s + "threads"][c]) for s in splits
                      for c in range(len(results["params"]))})
    return dict(wall_s=wall, cpu_s=sum(cpu), system_cpu_s=cpu[1], threads=threads,
                workers=len({int(v) for s in splits for v in results[s + "pid"]}),
                worker_peak_rss_mb=max(float(v) for s in splits
                                       for v in results[s + "worker_peak_rss_mb"]),
                scores=results["mean_test_accuracy"].round(4).tolist(),
                load=os.getloadavg()[0])


def _timed(fit) -> tuple[float, tuple[float, float]]:
    cpu, wall = _cpu_seconds(), time.perf_counter()
    fit()
    return time.perf_counter() - wall, tuple(b - a for a, b in zip(cpu, _cpu_seconds()))


def _run_config(config, settings, data) -> dict:
    """The body of one child: start the workers, time their start, then two searches."""
    import joblib

    X, y = data
    out = dict(config=config, load_before=os.getloadavg()[0])
    searches = [_search(settings, 1 if config == "n_jobs=1" else 2) for _ in range(2)]
    if config.startswith("dask"):
        import dask
        from distributed import Client, LocalCluster

        if config == NO_PROFILER:  # Dask's statistical profiler samples every thread's stack
            dask.config.set({"distributed.worker.profile.enabled": False})

        began = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        client.wait_for_workers(2)
        out["cluster_start_s"] = time.perf_counter() - began
        began = time.perf_counter()
        client.run(_probe)
        out["worker_import_s"] = time.perf_counter() - began
        out["worker_rss_after_import_mb"] = max(v[1] for v in client.run(_probe).values())
        try:
            with joblib.parallel_backend("dask"):
                for label, search in zip(("cold", "warm"), searches):
                    wall, cpu = _timed(lambda s=search: s.fit(X, y))
                    out[label] = _summary(search, wall, cpu)
        finally:
            client.close()
            cluster.close()
        out["cold_wall_s"] = out["cluster_start_s"] + out["worker_import_s"] + out["cold"]["wall_s"]
        return out
    if config == "n_jobs=2":
        # The search's first fits on fresh workers include their start: "cold".
        wall, cpu = _timed(lambda: searches[0].fit(X, y))
        out["cold"] = _summary(searches[0], wall, cpu)
        began = time.perf_counter()
        rss = joblib.Parallel(n_jobs=2)(joblib.delayed(_probe)() for _ in range(2))
        out["warm_probe_s"] = time.perf_counter() - began
        out["worker_rss_after_import_mb"] = max(r for _, r in rss)
        wall, cpu = _timed(lambda: searches[1].fit(X, y))
        out["warm"] = _summary(searches[1], wall, cpu)
        return out
    for label, search in zip(("cold", "warm"), searches):
        wall, cpu = _timed(lambda s=search: s.fit(X, y))
        out[label] = _summary(search, wall, cpu)
    return out


def _startup_child() -> dict:
    """Fresh loky workers: the first trivial task (start + import) against a second."""
    import joblib

    began = time.perf_counter()
    joblib.Parallel(n_jobs=2)(joblib.delayed(_probe)() for _ in range(2))
    cold = time.perf_counter() - began
    began = time.perf_counter()
    joblib.Parallel(n_jobs=2)(joblib.delayed(_probe)() for _ in range(2))
    return dict(loky_first_task_s=cold, loky_warm_task_s=time.perf_counter() - began)


def _load(quick: bool):
    import numpy as np

    from sklnn.datasets import mnist_train_test_split

    settings = _settings(quick)
    X, _, y, _ = mnist_train_test_split(flatten=True, n_train=settings["n_train"])
    return settings, np.ascontiguousarray(X, dtype=np.float32), y


def _in_fresh_interpreter(config: str, quick: bool) -> dict:
    command = [sys.executable, "-m", "benchmarks.search", "--config", config]
    env = dict(os.environ, PYTHONWARNINGS="ignore")  # fixed epochs: ConvergenceWarning
    done = subprocess.run(command + (["--quick"] if quick else []), capture_output=True,
                          text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        return {"config": config, "error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_search(quick: bool = False) -> dict:
    settings, X, _ = _load(quick)
    record = dict(name="search", settings={**settings, "hidden": list(settings["hidden"])},
                  grid=GRID, n_fits=12, x_mb=X.nbytes / 2**20, cores=len(os.sched_getaffinity(0)),
                  started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
                  load_start=os.getloadavg()[0], runs=[])
    record["startup"] = _in_fresh_interpreter("startup", quick)
    print(f"search: {X.shape[0]:,} x {X.shape[1]}, MLP {settings['hidden']}, "
          f"{settings['epochs']} epochs, 12 fits; X {record['x_mb']:.1f} MB; load "
          f"{record['load_start']:.2f}; worker start {record['startup']}", flush=True)
    for config in ("n_jobs=1", "n_jobs=2", "dask", NO_PROFILER):
        result = _in_fresh_interpreter(config, quick)
        record["runs"].append(result)
        print(f"  {config}: {json.dumps(result)}", flush=True)
    record["load_end"] = os.getloadavg()[0]
    record["summary"] = summarize(record)
    print(markdown(record))
    return record


def summarize(record: dict) -> dict:
    runs = {r.get("config"): r for r in record["runs"] if "error" not in r}
    base = runs.get("n_jobs=1", {}).get("warm", {}).get("wall_s")
    loky = runs.get("n_jobs=2", {}).get("warm", {}).get("wall_s")
    dask = runs.get("dask", {}).get("warm", {}).get("wall_s")
    quiet_dask = runs.get(NO_PROFILER, {}).get("warm", {}).get("wall_s")
    return {
        "dask_without_profiler_over_loky": quiet_dask / loky if quiet_dask and loky else None,
        "loky_over_sequential": loky / base if base and loky else None,
        "dask_over_loky": dask / loky if dask and loky else None,
        "dask_over_sequential": dask / base if dask and base else None,
    }


def markdown(record: dict) -> str:
    rows = ["| run | wall s (workers started) | x n_jobs=1 | wall s incl. start | CPU s | "
            "of which system | threads per fit | worker peak RSS MB | load |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    runs = {r.get("config"): r for r in record["runs"] if "error" not in r}
    base = runs.get("n_jobs=1", {}).get("warm", {}).get("wall_s")
    for config, r in runs.items():
        warm = r["warm"]
        cold = r.get("cold_wall_s", r.get("cold", {}).get("wall_s", warm["wall_s"]))
        ratio = f"{warm['wall_s'] / base:.2f}" if base else "-"
        rows.append(f"| {config} | {warm['wall_s']:.1f} | {ratio} | {cold:.1f} | "
                    f"{warm['cpu_s']:.1f} | {warm.get('system_cpu_s', float('nan')):.1f} | "
                    f"{warm['threads']} | {warm['worker_peak_rss_mb']:.0f}"
                    f" | {warm['load']:.1f} |")
    s = record.get("settings", {})
    return (f"Search workload ({record['started']} UTC): MNIST {s.get('n_train')} x 784, MLP "
            f"{s.get('hidden')}, {s.get('epochs')} epochs, 3 folds x 4 candidates; X "
            f"{record['x_mb']:.1f} MB; {record['cores']} cores; load average "
            f"{record['load_start']:.1f} at the start, {record['load_end']:.1f} at the end.\n\n"
            + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="the model-search benchmark")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)  # one run, as JSON
    args = parser.parse_args(argv)
    if args.config == "startup":
        print(json.dumps(_startup_child()))
        return 0
    if args.config:
        settings, X, y = _load(args.quick)
        print(json.dumps(_run_config(args.config, settings, (X, y))))
        return 0
    record = run_search(args.quick)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"search-{'quick' if args.quick else 'full'}-{stamp}.json"
    path.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
