"""`maxl compare`: every method × seed on one dataset with one protocol, then a summary.

Each run goes to OUT/METHOD-seedSEED (metrics.jsonl, results.json); a run whose results.json
already holds the same configuration is reused, so a killed comparison continues where it
stopped. The summary gives the mean ± sample standard deviation of the primary test accuracy per
method over seeds, and the gain over `single` paired seed by seed (same subset and initialisation).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maxl.config import TrainConfig
from maxl.data.dataset import load_dataset
from maxl.errors import MaxlError
from maxl.methods import METHOD_NAMES
from maxl.records import prepare_out_dir, write_atomic
from maxl.task import resolve_task

Log = Callable[[str], None]
SUMMARY_COLUMNS = (
    "method",
    "mean_accuracy",
    "std_accuracy",
    "runs",
    "mean_gain_over_single",
    "std_gain_over_single",
    "accuracies",
)


@dataclass(frozen=True)
class MethodSummary:
    """One method's primary test accuracies (fractions) by seed, and their gain over single."""

    method: str
    accuracies: dict[int, float]
    gains: dict[int, float]  # seed -> accuracy − single's accuracy on that seed

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies.values())

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 for a single run)."""
        values = list(self.accuracies.values())
        return statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def mean_gain(self) -> float | None:
        return statistics.fmean(self.gains.values()) if self.gains else None

    @property
    def std_gain(self) -> float | None:
        values = list(self.gains.values())
        if not values:
            return None
        return statistics.stdev(values) if len(values) > 1 else 0.0


def check_methods(methods: Sequence[str]) -> list[str]:
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown or not methods:
        raise MaxlError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; --methods takes a "
            f"comma-separated list of {', '.join(METHOD_NAMES)}"
        )
    return list(dict.fromkeys(methods))


def runnable_methods(base: TrainConfig, methods: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split methods into those the dataset supports and notes on the ones skipped."""
    if "human" not in methods:
        return list(methods), []
    dataset = load_dataset(base.dataset, base.data_dir)
    task = resolve_task(dataset, base.primary_level, None, base.seed, aux_level=base.aux_level)
    if task.human is not None:
        return list(methods), []
    note = (
        f"human skipped: {dataset.name} has no labels finer than level {task.primary_level} "
        "(choose a coarser --primary-level, or give an .npz fine_train/fine_test)"
    )
    return [m for m in methods if m != "human"], [note]


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run's config that decide its result."""
    return {k: v for k, v in config.items() if k not in ("out", "progress", "device", "resume")}


def default_compare_dir(base: TrainConfig) -> Path:
    """runs/compare-DATASET, named like the single runs' default folders."""
    from maxl.engine import default_out_dir

    return Path("runs") / f"compare-{default_out_dir(base).name.rsplit('-', 2)[0]}"


def run_or_reuse(config: TrainConfig, log: Log) -> dict[str, Any]:
    """Train `config`, unless its folder already has results of the very same configuration;
    a run killed part-way continues from its checkpoint when that has the same settings."""
    from maxl.checkpoint import checkpoint_path, load_checkpoint
    from maxl.engine import train

    assert config.out is not None
    previous = config.out / "results.json"
    if previous.is_file():
        try:
            results = json.loads(previous.read_text())
        except (OSError, ValueError):
            results = {}
        if comparable(results.get("config", {})) == comparable(config.to_json()):
            log(f"{config.method}, seed {config.seed}: reusing {previous}")
            return results
    checkpoint = checkpoint_path(config.out)
    if checkpoint.is_file():
        try:
            load_checkpoint(checkpoint, config)
        except MaxlError as error:
            log(f"{config.method}, seed {config.seed}: starting afresh, not resuming ({error})")
        else:
            return train(dataclasses.replace(config, resume=True), log=log)
    return train(config, log=log)


def run_compare(
    base: TrainConfig,
    methods: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    log: Log = print,
) -> tuple[list[MethodSummary], list[str]]:
    """Train every method with every seed (seed-major), then write the summary files."""
    methods, notes = prepare_comparison(base, methods, seeds, out, log)
    accuracies: dict[str, dict[int, float]] = {m: {} for m in methods}
    for seed in seeds:
        for method in methods:
            config = dataclasses.replace(
                base, method=method, seed=seed, out=out / f"{method}-seed{seed}"
            )
            accuracies[method][seed] = float(run_or_reuse(config, log)["test_accuracy"])
    summaries = summarise(accuracies)
    write_summary(out, base, summaries, notes, list(seeds))
    return summaries, notes


def prepare_comparison(
    base: TrainConfig, methods: Sequence[str], seeds: Sequence[int], out: Path, log: Log
) -> tuple[list[str], list[str]]:
    """Check the methods and seeds, create OUT, and log a note for each method skipped;
    returns the methods to run and the notes."""
    methods = check_methods(methods)
    if not seeds:
        raise MaxlError("--seeds is empty; give e.g. --seeds 0,1,2")
    prepare_out_dir(out)
    methods, notes = runnable_methods(base, methods)
    for note in notes:
        log(note)
    return methods, notes


def summarise(accuracies: dict[str, dict[int, float]]) -> list[MethodSummary]:
    """Per method: accuracies by seed and the paired gain over single where single ran."""
    single = accuracies.get("single", {})
    return [
        MethodSummary(
            method=method,
            accuracies=by_seed,
            gains={s: a - single[s] for s, a in by_seed.items() if s in single},
        )
        for method, by_seed in accuracies.items()
    ]


def format_table(summaries: Sequence[MethodSummary]) -> str:
    """Markdown table: accuracy mean ± std (%), paired gain over single (points), runs."""
    lines = [
        "| method | test accuracy (%) | gain over single (points) | runs |",
        "|---|---:|---:|---:|",
    ]
    for s in summaries:
        gain = "—"
        if s.method != "single" and s.mean_gain is not None and s.std_gain is not None:
            gain = f"{100 * s.mean_gain:+.2f} ± {100 * s.std_gain:.2f}"
        lines.append(
            f"| {s.method} | {100 * s.mean:.2f} ± {100 * s.std:.2f} | {gain} | "
            f"{len(s.accuracies)} |"
        )
    return "\n".join(lines)


def write_summary(
    out: Path,
    base: TrainConfig,
    summaries: Sequence[MethodSummary],
    notes: Sequence[str],
    seeds: list[int],
) -> None:
    """summary.csv (fractions), summary.md (percentages, per-seed table) and comparison.png."""
    from maxl.plots import comparison_figure

    rows = [
        {
            "method": s.method,
            "mean_accuracy": f"{s.mean:.6f}",
            "std_accuracy": f"{s.std:.6f}",
            "runs": len(s.accuracies),
            "mean_gain_over_single": "" if s.mean_gain is None else f"{s.mean_gain:.6f}",
            "std_gain_over_single": "" if s.std_gain is None else f"{s.std_gain:.6f}",
            "accuracies": ";".join(f"{a:.6f}" for a in s.accuracies.values()),
        }
        for s in summaries
    ]
    write_atomic(out / "summary.csv", lambda handle: handle.write(csv_text(rows).encode()))
    protocol = {k: v for k, v in base.to_json().items() if k not in ("method", "seed", "out")}
    per_seed = ["| method | " + " | ".join(f"seed {s}" for s in seeds) + " |"]
    per_seed.append("|---|" + "---:|" * len(seeds))
    for s in summaries:
        cells = [
            f"{100 * s.accuracies[seed]:.2f}" if seed in s.accuracies else "" for seed in seeds
        ]
        per_seed.append(f"| {s.method} | " + " | ".join(cells) + " |")
    text = [
        f"# Comparison on {base.dataset}",
        "",
        "Primary test accuracy after the last epoch: mean ± sample standard deviation over "
        "seeds; the gain over single is paired by seed (same training subset and "
        "initialisation).",
        "",
        format_table(summaries),
        "",
        *[f"*{note}*\n" for note in notes],
        "## Per seed (test accuracy, %)",
        "",
        *per_seed,
        "",
        *protocol_section(protocol),
    ]
    markdown = "\n".join(text)
    write_atomic(out / "summary.md", lambda handle: handle.write(markdown.encode()))
    comparison_figure(summaries, out / "comparison.png", title=f"{base.dataset}")


def protocol_section(protocol: dict[str, Any]) -> list[str]:
    """Markdown lines: a Protocol heading and the settings as a JSON block."""
    return ["## Protocol", "", "```json", json.dumps(protocol, indent=2), "```", ""]


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
