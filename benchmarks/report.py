"""Summaries of the raw measurements, the JSON file and the Markdown tables."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# (label, numerator implementation, denominator implementation, measured quantity, target)
RATIOS = [
    ("sklnn fit / loop fit", "sklnn", "torch_loop", "fit_s", "<= 1.10"),
    ("sklnn fit / loop fit, CPU s", "sklnn", "torch_loop", "fit_cpu_s", "<= 1.10"),
    ("sklnn predict / bare forward", "sklnn", "torch_loop", "predict_s", "<= 1.10"),
    ("skorch fit / sklnn fit", "skorch", "sklnn", "fit_s", ">= 2 blobs, > 1 else"),
    ("skorch fit / sklnn fit, CPU s", "skorch", "sklnn", "fit_cpu_s", ""),
    ("skorch predict / sklnn predict", "skorch", "sklnn", "predict_s", ">= 3"),
    ("sklearn fit / sklnn fit", "sklearn", "sklnn", "fit_s", ">= 1"),
    ("sklearn predict / sklnn predict", "sklearn", "sklnn", "predict_s", ""),
]
LABELS = {"sklnn": "sklnn", "torch_loop": "hand-written loop", "sklearn": "scikit-learn",
          "skorch": "skorch"}


def spread(values) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summarize(workload_record: dict) -> dict:
    """Medians and ranges per implementation, and ratios paired within each repeat."""
    runs = workload_record["runs"]
    per_impl = {}
    for impl in workload_record["implementations"]:
        ok = [r for r in runs if r["implementation"] == impl and "error" not in r]
        per_impl[impl] = {
            key: spread(r.get(key) for r in ok)
            for key in ("fit_s", "fit_cpu_s", "predict_s", "predict_cpu_s", "score",
                        "peak_rss_mb", "rss_growth_mb", "cuda_max_allocated_mb", "load_before")
        }
        per_impl[impl]["threads"] = sorted({r["threads"] for r in ok if r.get("threads")})
        per_impl[impl]["predict_threads"] = sorted({r["predict_threads"] for r in ok
                                                    if r.get("predict_threads")})
        per_impl[impl]["errors"] = [r["error"] for r in runs
                                    if r["implementation"] == impl and "error" in r]
    ratios = {}
    for label, top, bottom, key, target in RATIOS:
        paired = []
        for repeat in {r["repeat"] for r in runs}:
            a = [r for r in runs if r["repeat"] == repeat and r["implementation"] == top]
            b = [r for r in runs if r["repeat"] == repeat and r["implementation"] == bottom]
            if a and b and a[0].get(key) and b[0].get(key):
                paired.append(a[0][key] / b[0][key])
        if paired:
            ratios[label] = dict(spread(paired), target=target)
    return {"implementations": per_impl, "ratios": ratios}


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(path)


# ------------------------------------------------------------------ markdown
def _fmt(s: dict | None, scale: float = 1.0, digits: int = 2) -> str:
    if s is None:
        return "-"
    med, lo, hi = s["median"] * scale, s["min"] * scale, s["max"] * scale
    return f"{med:.{digits}f} [{lo:.{digits}f}-{hi:.{digits}f}]"


def _score_name(task: str) -> str:
    return "R2" if task == "regression" else "accuracy"


def _machine_line(payload: dict) -> str:
    m = payload["machine"]
    blas = ", ".join(sorted({f"{b['internal_api']} {b['num_threads']} threads"
                             for b in m.get("blas", [])}))
    device = m.get("gpu") or m.get("device")
    loads = payload.get("load", {})
    return (
        f"{payload['mode']} run, {payload['finished']} UTC; {m['cpu']}, {m['cores']} cores, "
        f"device {device}; torch {m.get('torch')} ({m.get('torch_threads')} intra-op threads by "
        f"default), scikit-learn {m.get('sklearn')}, skorch {m.get('skorch')}; numpy BLAS: "
        f"{blas}. Load average (1 min) {loads.get('start', 0):.2f} at start, "
        f"{loads.get('end', 0):.2f} at end, median {loads.get('median', 0):.2f} over the runs."
    )


def markdown(payload: dict) -> str:
    lines = [
        f"_{_machine_line(payload)}_",
        "",
        "Times are wall-clock seconds, median [min-max] over interleaved repeats, each "
        "measurement in its own forked process. All inputs are float32; everyone trains the "
        "same network with Adam for the same number of epochs (no early stopping). Predict "
        "is `predict_proba` (classifiers) or `predict` on 100,000 rows (2,000 images for the "
        "CNN and ResNet); the loop's \"predict\" is a bare forward pass under "
        "`torch.inference_mode`, in batches of the size sklnn's engine picks (sized to the "
        "CPU cache). "
        "CPU s is the process's CPU time (all threads), steadier than wall time under load for "
        "single-threaded runs.",
        "",
    ]
    compare = [w for w in payload["workloads"] if w["group"] == "compare"]
    if compare:
        lines += [
            "| Workload | Implementation | fit s | fit CPU s | predict ms | predict rows/s | "
            "score | peak RSS MB (growth) | threads fit / predict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for w in compare:
            for impl, s in w["summary"]["implementations"].items():
                if s["fit_s"] is None:
                    lines.append(f"| {w['name']} | {LABELS[impl]} | failed: "
                                 f"{'; '.join(s['errors'])[:80]} | | | | | | |")
                    continue
                rows_per_s = w["predict_rows"] / s["predict_s"]["median"]
                rss = s["peak_rss_mb"]["median"] if s["peak_rss_mb"] else float("nan")
                growth = s["rss_growth_mb"]["median"] if s["rss_growth_mb"] else float("nan")
                cuda = s.get("cuda_max_allocated_mb")
                cuda_text = f", CUDA {cuda['median']:.0f}" if cuda else ""
                lines.append(
                    f"| {w['name']} ({w['epochs']} ep.) | {LABELS[impl]} | {_fmt(s['fit_s'])} | "
                    f"{s['fit_cpu_s']['median'] if s['fit_cpu_s'] else float('nan'):.2f} | "
                    f"{_fmt(s['predict_s'], 1000, 0)} | {rows_per_s:,.0f} | "
                    f"{_score_name(w['task'])} {s['score']['median']:.4f} | "
                    f"{rss:.0f} (+{growth:.0f}{cuda_text}) | "
                    f"{','.join(map(str, s['threads']))} / "
                    f"{','.join(map(str, s.get('predict_threads') or ['?']))} |"
                )
        lines += ["", "Ratios, paired within each repeat (median [min-max]):", ""]
        labels = [label for label, *_ in RATIOS]
        lines += ["| Workload | " + " | ".join(labels) + " |",
                  "|---|" + "---|" * len(labels)]
        targets = {label: target for label, *_, target in RATIOS}
        lines.append("| *target* | " + " | ".join(targets[label] for label in labels) + " |")
        for w in compare:
            ratios = w["summary"]["ratios"]
            lines.append(f"| {w['name']} | " + " | ".join(
                _fmt(ratios.get(label)) for label in labels) + " |")
        lines.append("")
    scaling_n = [w for w in payload["workloads"] if w["group"] == "scaling_n"]
    if scaling_n:
        base = scaling_n[0]
        lines += [
            f"Fit time against n_samples (blobs network, {base['epochs']} epochs, batch "
            f"{base['batch_size']}); per-sample cost relative to the smallest n shows linearity:",
            "",
            "| n_samples | Implementation | fit s | us per sample-epoch | relative |",
            "|---|---|---|---|---|",
        ]
        first = {}
        for w in scaling_n:
            n = w["params"]["n_samples"]
            for impl, s in w["summary"]["implementations"].items():
                if s["fit_s"] is None:
                    continue
                per = s["fit_s"]["median"] / (n * w["epochs"]) * 1e6
                first.setdefault(impl, per)
                lines.append(f"| {n:,} | {LABELS[impl]} | {_fmt(s['fit_s'])} | {per:.2f} | "
                             f"{per / first[impl]:.2f} |")
        lines.append("")
    scaling_batch = [w for w in payload["workloads"] if w["group"] == "scaling_batch"]
    if scaling_batch:
        base = scaling_batch[0]
        lines += [
            f"Fit time against batch size (MNIST network, {base['epochs']} epochs):",
            "",
            "| batch | Implementation | fit s | samples/s | accuracy | sklnn fit / loop fit |",
            "|---|---|---|---|---|---|",
        ]
        for w in scaling_batch:
            ratio = w["summary"]["ratios"].get("sklnn fit / loop fit")
            for impl, s in w["summary"]["implementations"].items():
                if s["fit_s"] is None:
                    continue
                rate = w["n_train"] * w["epochs"] / s["fit_s"]["median"]
                lines.append(
                    f"| {w['params']['batch_size']} | {LABELS[impl]} | {_fmt(s['fit_s'])} | "
                    f"{rate:,.0f} | {s['score']['median']:.4f} | "
                    f"{_fmt(ratio) if impl == 'sklnn' else ''} |")
        lines.append("")
    notes = payload.get("notes") or []
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def stamp(machine: dict, started: str, load: tuple[float, float] | None = None) -> str:
    """The line that dates a table: when, on which machine, with which versions."""
    text = (f"{started} UTC; {machine.get('cpu')}, {machine.get('cores')} cores, device "
            f"{machine.get('gpu') or machine.get('device')}; torch {machine.get('torch')}, "
            f"scikit-learn {machine.get('sklearn')}")
    if load is not None:
        text += f"; load average (1 min) {load[0]:.2f} at start, {load[1]:.2f} at end"
    return f"_{text}._"


def replace_block(path: Path, block: str, heading: str = "## Benchmarks", name: str = ""
                  ) -> None:
    """Put ``block`` between the bench markers in ``path`` (``<!-- bench:start -->``, or
    ``<!-- bench:NAME:start -->`` for a named block); add heading and markers if absent."""
    text = path.read_text() if path.exists() else ""
    start, end = (f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->") if name \
        else (START, END)
    inner = f"{start}\n{block.rstrip()}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: inner, text,
                      flags=re.DOTALL)
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{inner}\n"
    path.write_text(text)
