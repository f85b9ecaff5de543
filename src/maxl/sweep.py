"""`maxl sweep`: one setting at several values, every method × seed at each, as one command.

Each value gets a comparison folder OUT/FIELD-VALUE (runs METHOD-seedS, summary files), so
`maxl show` works on it; OUT/sweep.md, OUT/sweep.csv and OUT/sweep.png put the values side by
side. Runs go seed by seed across all values, so a sweep stopped early still compares every
value on the seeds it finished, and a rerun reuses the finished runs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maxl.compare import (
    default_compare_dir,
    prepare_comparison,
    protocol_section,
    run_or_reuse,
    summarise,
)
from maxl.compare import write_summary as write_compare_summary
from maxl.config import NOT_VARIED, TrainConfig, convert_field
from maxl.errors import MaxlError
from maxl.report.runs import ANALYSIS_KEYS, last_value, number
from maxl.run_folder import is_run_folder, prepare_out_dir, read_metrics, write_atomic
from maxl.summaries import SweepPoint
from maxl.tuning import TrainFn
from maxl.types import Log

SWEEP_COLUMNS = ("value", "method", "mean_accuracy", "std_accuracy", "runs", *ANALYSIS_KEYS)


def parse_sweep(field: str, texts: Sequence[str]) -> tuple[str, list[Any]]:
    """'psi', ['2', '5'] -> ('psi', [(2,), (5,)]); values typed like the config file's."""
    import yaml

    name = field.replace("-", "_")
    fields = TrainConfig.__dataclass_fields__
    if name not in fields or name in NOT_VARIED:
        allowed = ", ".join(f for f in fields if f not in NOT_VARIED)
        raise MaxlError(f"--vary cannot sweep {field!r}; sweep one of {allowed}")
    if not texts:
        raise MaxlError(f"--vary {field} has no values; write e.g. --vary {field} 0 0.2 1")
    if len(set(texts)) != len(texts):
        raise MaxlError(f"--vary {field} repeats a value; give each value once")
    values = []
    for text in texts:
        value = [int(v) for v in text.split(",")] if "," in text else yaml.safe_load(text)
        values.append(convert_field(name, value, "--vary"))
    return name, values


def default_sweep_dir(base: TrainConfig, field: str) -> Path:
    """runs/sweep-DATASET-FIELD, beside compare's runs/compare-DATASET."""
    compare_dir = default_compare_dir(base)
    return compare_dir.with_name(compare_dir.name.replace("compare-", "sweep-") + f"-{field}")


def run_sweep(
    base: TrainConfig,
    field: str,
    labels: Sequence[str],
    values: Sequence[Any],
    methods: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    log: Log = print,
    train_fn: TrainFn = run_or_reuse,
) -> list[SweepPoint]:
    """Train every method with every seed at every value (seed-major), then summarise; each
    run goes through `train_fn` (default: train, or reuse a finished run)."""
    rows, notes = prepare_comparison(base, methods, seeds, out, log)
    methods = list(rows)
    configs = {
        label: dataclasses.replace(base, **{field: v})
        for label, v in zip(labels, values, strict=True)
    }
    folders = {label: out / f"{field}-{label.replace(',', '_')}" for label in labels}
    for folder in folders.values():
        prepare_out_dir(folder)
    accuracies: dict[str, dict[str, dict[int, float]]] = {
        label: {m: {} for m in methods} for label in labels
    }
    for seed in seeds:
        for label in labels:
            for method in methods:
                run_dir = folders[label] / f"{method}-seed{seed}"
                config = dataclasses.replace(configs[label], method=method, seed=seed, out=run_dir)
                log(f"{field} = {label}:")
                accuracy = float(train_fn(config, log)["test_accuracy"])
                accuracies[label][method][seed] = accuracy
    points = []
    for label in labels:
        summaries = summarise(accuracies[label])
        write_compare_summary(folders[label], configs[label], summaries, notes, list(seeds))
        metrics = {
            m: last_metrics([folders[label] / f"{m}-seed{s}" for s in seeds]) for m in methods
        }
        points.append(SweepPoint(label, folders[label], summaries, metrics))
    write_sweep_summary(out, base, field, points, list(seeds))
    return points


def last_metrics(run_dirs: Sequence[Path]) -> dict[str, float]:
    """Each analysis metric's last recorded value per run, averaged over the runs with one."""
    values: dict[str, list[float]] = {key: [] for key in ANALYSIS_KEYS}
    for run_dir in run_dirs:
        records = read_metrics(run_dir)
        for key in ANALYSIS_KEYS:
            value = number(last_value(records, key))
            if value is not None:
                values[key].append(value)
    return {key: statistics.fmean(v) for key, v in values.items() if v}


def format_sweep_table(field: str, points: Sequence[SweepPoint]) -> str:
    """Markdown: per value and method, accuracy mean ± std (%) and last-epoch analysis means."""
    lines = [
        f"| {field} | method | test accuracy (%) | runs | gradient cosine | label entropy | "
        "marginal entropy | NMI with human | NMI within class |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for point in points:
        for s in point.summaries:
            metrics = point.last_metrics.get(s.method, {})
            cells = [f"{metrics[key]:.3f}" if key in metrics else "—" for key in ANALYSIS_KEYS]
            lines.append(
                f"| {point.label} | {s.method} | {100 * s.mean:.2f} ± {100 * s.std:.2f} | "
                f"{len(s.accuracies)} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def write_sweep_summary(
    out: Path, base: TrainConfig, field: str, points: Sequence[SweepPoint], seeds: list[int]
) -> None:
    """sweep.csv (fractions), sweep.md (table, protocol) and sweep.png."""
    from maxl.report.figures import sweep_figure

    rows = [
        {
            "value": point.label,
            "method": s.method,
            "mean_accuracy": f"{s.mean:.6f}",
            "std_accuracy": f"{s.std:.6f}",
            "runs": len(s.accuracies),
            **{
                key: f"{point.last_metrics[s.method][key]:.6f}"
                if key in point.last_metrics.get(s.method, {})
                else ""
                for key in ANALYSIS_KEYS
            },
        }
        for point in points
        for s in point.summaries
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SWEEP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "sweep.csv", lambda handle: handle.write(buffer.getvalue().encode()))
    protocol = {
        k: v for k, v in base.to_json().items() if k not in ("method", "seed", "out", field)
    }
    figures = overlay_by_value(out, field, points, seeds)
    text = "\n".join(
        [
            f"# Sweep of {field} on {base.dataset}",
            "",
            f"Seeds {', '.join(map(str, seeds))}. Test accuracy after the last epoch: mean ± "
            "sample standard deviation over seeds. The analysis columns are the last epoch's "
            "values (metrics.jsonl), averaged over seeds: cosine between the primary and "
            "auxiliary gradients on the shared trunk, mean entropy of each image's auxiliary "
            "label, entropy of the mean label (nats), NMI with the human labels over all images "
            "and within each primary class.",
            "",
            "![sweep](sweep.png)",
            "",
            "Curves per value, mean over seeds with a min..max band, in `figures/`: "
            + ", ".join(f"[{p.name}](figures/{p.name})" for p in figures)
            + ".",
            "",
            format_sweep_table(field, points),
            "",
            "Each value's runs and comparison: "
            + ", ".join(f"`{p.folder.name}/`" for p in points)
            + " (`maxl show` draws any of them).",
            "",
            *protocol_section(protocol),
        ]
    )
    write_atomic(out / "sweep.md", lambda handle: handle.write(text.encode()))
    sweep_figure(points, out / "sweep.png", field=field, title=base.dataset)


def overlay_by_value(
    out: Path, field: str, points: Sequence[SweepPoint], seeds: Sequence[int]
) -> list[Path]:
    """OUT/figures: every value's curves (one line per value and method) on shared axes."""
    from maxl.report.figures import overlay_figures

    groups = {}
    for point in points:
        for s in point.summaries:
            label = f"{field}={point.label}" + (f" {s.method}" if len(point.summaries) > 1 else "")
            runs = [point.folder / f"{s.method}-seed{seed}" for seed in seeds]
            groups[label] = [read_metrics(run) for run in runs if is_run_folder(run)]
    figures = out / "figures"
    prepare_out_dir(figures)
    return overlay_figures(groups, figures)
