"""`maxl compare`: every method × seed on one dataset with one protocol, then a summary.

With a tuning grid (`--tune-single`, `tune_single:` in a config file) single-task training is
first tuned on a validation split (maxl.tuning, runs in OUT/tune/) and every method then trains
with the chosen setting. Each run goes to OUT/METHOD-seedSEED (metrics.jsonl, results.json); a
run whose results.json already holds the same configuration is reused, so a killed comparison
continues where it stopped. The summary gives the mean ± sample standard deviation of the
primary test accuracy per method over seeds, and the gains over `single` and over `random`
paired seed by seed (same subset and initialisation), with the count of seeds won.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maxl.assembly import default_out_dir, train
from maxl.assembly.datasets import load_dataset
from maxl.checkpoint import load_checkpoint
from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.jobs import RunPool, TrainFn
from maxl.method_variants import Variant, resolve_rows
from maxl.run_folder import (
    checkpoint_path,
    prepare_out_dir,
    read_results,
    results_path,
    write_atomic,
)
from maxl.step import NonFiniteLoss
from maxl.summaries import MethodSummary, sample_std, seeds_won
from maxl.task import resolve_task
from maxl.tuning import (
    Tuning,
    TuningResult,
    tune_method,
    tuning_section,
    write_tuning_csv,
)
from maxl.types import Log

SUMMARY_COLUMNS = (
    "method",
    "mean_accuracy",
    "std_accuracy",
    "runs",
    "mean_gain_over_single",
    "std_gain_over_single",
    "accuracies",
    "mean_gain_over_random",
    "std_gain_over_random",
    "seeds_won_over_single",
    "seeds_won_over_random",
)


def runnable_rows(
    base: TrainConfig, rows: dict[str, Variant]
) -> tuple[dict[str, Variant], list[str]]:
    """Split the rows into those the dataset supports and notes on the ones skipped (human
    labels, and variants of them, need a dataset with labels finer than the primary ones)."""
    if all(row.method != "human" for row in rows.values()):
        return rows, []
    dataset = load_dataset(base.dataset, base.data_dir, image_size=base.image_size)
    task = resolve_task(dataset, base.primary_level, None, base.seed, aux_level=base.aux_level)
    if task.human is not None:
        return rows, []
    skipped = [name for name, row in rows.items() if row.method == "human"]
    note = (
        f"{', '.join(skipped)} skipped: {dataset.name} has no labels finer than level "
        f"{task.primary_level} (choose a coarser --primary-level, or give an .npz "
        "fine_train/fine_test)"
    )
    return {name: row for name, row in rows.items() if row.method != "human"}, [note]


# Settings newer than some finished runs, with the value those runs had in effect: a run saved
# before image_size existed read no image folder, so it used none; those before meta_depth and
# gen_backbone differentiated through all blocks of a generator like the network; those before
# the multi-task optimiser's options used SGD without weight decay on the step schedule.
ADDED_LATER = {
    "image_size": None,
    "meta_depth": None,
    "gen_backbone": None,
    "optimizer": "sgd",
    "weight_decay": 0.0,
    "lr_schedule": "step",
    "confidence_weight": 0.0,
    "early_stop": None,
}


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run's config that decide its result."""
    ignored = ("out", "progress", "device", "resume", "tensorboard")
    return {k: v for k, v in {**ADDED_LATER, **config}.items() if k not in ignored}


def default_compare_dir(base: TrainConfig) -> Path:
    """runs/compare-DATASET, named like the single runs' default folders."""
    return Path("runs") / f"compare-{default_out_dir(base).name.rsplit('-', 2)[0]}"


def run_or_reuse(config: TrainConfig, log: Log) -> dict[str, Any]:
    """Train `config`, unless its folder already has results of the very same configuration;
    a run killed part-way continues from its checkpoint when that has the same settings."""
    assert config.out is not None
    try:
        previous = read_results(config.out)
    except MaxlError:  # a damaged results.json: train again
        previous = None
    if previous is not None and comparable(previous.get("config", {})) == comparable(
        config.to_json()
    ):
        log(f"{config.method}, seed {config.seed}: reusing {results_path(config.out)}")
        return previous
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
    tuning: Tuning | None = None,
    train_fn: TrainFn | None = None,
    *,
    method_tunings: dict[str, Tuning] | None = None,
    jobs: int = 1,
    threads: int | None = None,
    variants: dict[str, Variant] | None = None,
) -> tuple[list[MethodSummary], list[str], TuningResult | None]:
    """Tune single first when `tuning` is given (every method then trains with the chosen
    setting), then each method or variant of `method_tunings` on the same validation split
    with at most as many runs, train every method (and every variant `methods` names) with
    every seed (seed-major), and write the summary files. Each run goes through `train_fn`
    (default: train, or reuse a finished run), `jobs` at a time with `threads` each
    (maxl.jobs)."""
    pool = RunPool(train_fn or run_or_reuse, jobs, threads)
    method_tunings = dict(method_tunings or {})
    rows, notes = prepare_comparison(base, methods, seeds, out, log, variants or {})
    tune_seeds = tuning.seeds_of(seeds) if tuning is not None else list(seeds)
    check_method_tunings(method_tunings, list(rows), tuning, len(tune_seeds))
    if tuning is not None and has_own_validation(base):
        tuning = dataclasses.replace(tuning, val_fraction=0.0)  # the dataset's own split
    tuned = None
    if tuning is not None:
        tuned = tune_method("single", base, tuning, tune_seeds, out / "tune", log, pool)
        base = dataclasses.replace(base, **tuned.best.settings)
        log(f"single tuned on validation: {tuned.best.label()}")
    own: dict[str, TuningResult] = {}
    for name, grid in method_tunings.items():
        grid = Tuning(grid.grid, tuned.val_fraction if tuned else grid.val_fraction)
        row = rows[name]
        own[name] = tune_method(
            row.method,
            dataclasses.replace(base, **row.settings),
            grid,
            tune_seeds,
            out / f"tune-{name}",
            log,
            pool,
            name=name,
        )
        log(f"{name} tuned on validation: {own[name].best.label()}")
    names = [name for _ in seeds for name in rows]
    configs = [
        dataclasses.replace(
            base,
            **{**rows[name].settings, **(own[name].best.settings if name in own else {})},
            method=rows[name].method,
            seed=seed,
            out=out / f"{name}-seed{seed}",
        )
        for seed in seeds
        for name in rows
    ]
    accuracies: dict[str, dict[int, float]] = {name: {} for name in rows}
    for name, config, outcome in zip(names, configs, pool.run(configs, log), strict=True):
        if isinstance(outcome, NonFiniteLoss):
            raise outcome
        accuracies[name][config.seed] = float(outcome["test_accuracy"])
    summaries = summarise(accuracies)
    own_rows = [row for row in rows.values() if row.settings]
    write_summary(out, base, summaries, notes, list(seeds), tuned, list(own.values()), own_rows)
    return summaries, notes, tuned


def has_own_validation(base: TrainConfig) -> bool:
    """Does the dataset bring its own validation split (x_val/y_val, PATH/val)?"""
    dataset = load_dataset(base.dataset, base.data_dir, image_size=base.image_size)
    return dataset.x_val is not None


def check_method_tunings(
    tunings: dict[str, Tuning], rows: Sequence[str], single: Tuning | None, seeds: int
) -> None:
    """A method or variant is tuned only beside a tuned single, on no more runs than single
    had."""
    for method, grid in tunings.items():
        if method == "single":
            raise MaxlError("single is tuned by tune_single, not by tune_METHOD")
        if method not in rows:
            raise MaxlError(
                f"tune_{method} is given but {method} is not among the methods; add it to "
                f"methods, or tune one of {', '.join(m for m in rows if m != 'single')}"
            )
        if single is None:
            raise MaxlError(
                f"tune_{method} needs tune_single: a method is tuned at single's chosen "
                "setting, on its validation split, with no more runs than single had"
            )
        if grid.seeds is not None:
            raise MaxlError(
                f"tune_{method} gives seeds, but every method is tuned on single's seeds; set "
                "seeds in tune_single"
            )
        allowed = len(single.points()) * seeds
        if len(grid.points()) * seeds > allowed:
            raise MaxlError(
                f"tune_{method} has {len(grid.points())} settings, more than single's "
                f"{len(single.points())}: every method gets at most single's {allowed} tuning "
                "runs; drop some values"
            )


def prepare_comparison(
    base: TrainConfig,
    methods: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    log: Log,
    variants: dict[str, Variant] | None = None,
) -> tuple[dict[str, Variant], list[str]]:
    """Check the methods (and the variants they name) and seeds, create OUT, and log a note
    for each row skipped; returns the rows to run, by name, and the notes."""
    rows = resolve_rows(list(methods), variants or {})
    if not seeds:
        raise MaxlError("--seeds is empty; give e.g. --seeds 0,1,2")
    prepare_out_dir(out)
    rows, notes = runnable_rows(base, rows)
    for note in notes:
        log(note)
    return rows, notes


def summarise(accuracies: dict[str, dict[int, float]]) -> list[MethodSummary]:
    """Per method: accuracies by seed and the paired gains over single and random where
    those ran."""
    single = accuracies.get("single", {})
    random = accuracies.get("random", {})
    return [
        MethodSummary(
            method=method,
            accuracies=by_seed,
            gains={s: a - single[s] for s, a in by_seed.items() if s in single},
            random_gains={s: a - random[s] for s, a in by_seed.items() if s in random},
        )
        for method, by_seed in accuracies.items()
    ]


def format_table(summaries: Sequence[MethodSummary]) -> str:
    """Markdown table: accuracy mean ± std (%), paired gains over single and random (points)
    with the seeds won, runs."""
    lines = [
        "| method | test accuracy (%) | gain over single (points) | gain over random (points) "
        "| runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in summaries:
        over_single = gain_cell(s.gains, s.method == "single")
        over_random = gain_cell(s.random_gains, s.method == "random")
        lines.append(
            f"| {s.method} | {100 * s.mean:.2f} ± {100 * s.std:.2f} | {over_single} | "
            f"{over_random} | {len(s.accuracies)} |"
        )
    return "\n".join(lines)


def gain_cell(gains: dict[int, float], itself: bool) -> str:
    """'+0.52 ± 0.31 (4/5 seeds)', or — for the reference itself or where it did not run."""
    if itself or not gains:
        return "—"
    mean, std = statistics.fmean(gains.values()), sample_std(gains) or 0.0
    return f"{100 * mean:+.2f} ± {100 * std:.2f} ({seeds_won(gains)}/{len(gains)} seeds)"


def write_summary(
    out: Path,
    base: TrainConfig,
    summaries: Sequence[MethodSummary],
    notes: Sequence[str],
    seeds: list[int],
    tuned: TuningResult | None = None,
    method_tunings: Sequence[TuningResult] = (),
    variants: Sequence[Variant] = (),
) -> None:
    """summary.csv (fractions), summary.md (percentages, per-seed table, the variants' own
    settings, the tunings) and comparison.png; with a tuning, also tuning.csv (single) and
    tuning-METHOD.csv (others)."""
    from maxl.report.figures import comparison_figure

    rows = [
        {
            "method": s.method,
            "mean_accuracy": f"{s.mean:.6f}",
            "std_accuracy": f"{s.std:.6f}",
            "runs": len(s.accuracies),
            "mean_gain_over_single": optional(s.mean_gain),
            "std_gain_over_single": optional(s.std_gain),
            "accuracies": ";".join(f"{a:.6f}" for a in s.accuracies.values()),
            "mean_gain_over_random": optional(s.mean_random_gain),
            "std_gain_over_random": optional(s.std_random_gain),
            "seeds_won_over_single": seeds_won(s.gains) if s.gains else "",
            "seeds_won_over_random": seeds_won(s.random_gains) if s.random_gains else "",
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
        "seeds; the gains over single and over random are paired by seed (same training subset "
        "and initialisation), with the number of seeds on which the gain is above zero.",
        "",
        format_table(summaries),
        "",
        *[f"*{note}*\n" for note in notes],
        "## Per seed (test accuracy, %)",
        "",
        *per_seed,
        "",
        *variants_section(variants, summaries),
        *(tuning_section(tuned) if tuned is not None else []),
        *[line for result in method_tunings for line in tuning_section(result)],
        *protocol_section(protocol),
    ]
    markdown = "\n".join(text)
    write_atomic(out / "summary.md", lambda handle: handle.write(markdown.encode()))
    comparison_figure(summaries, out / "comparison.png", title=f"{base.dataset}")
    if tuned is not None:
        write_tuning_csv(out / "tuning.csv", tuned)
    for result in method_tunings:
        write_tuning_csv(out / f"tuning-{result.method}.csv", result)


def variants_section(
    variants: Sequence[Variant], summaries: Sequence[MethodSummary] = ()
) -> list[str]:
    """Markdown lines: each variant's method, the settings it changes and, where its method
    ran too, its gain over that method, paired by seed."""
    if not variants:
        return []
    by_name = {s.method: s.accuracies for s in summaries}
    lines = ["## Variants (their own settings; the rest as in the protocol)", ""]
    for row in variants:
        changed = ", ".join(f"{key} {value}" for key, value in row.settings.items())
        own, plain = by_name.get(row.name, {}), by_name.get(row.method, {})
        gains = {seed: accuracy - plain[seed] for seed, accuracy in own.items() if seed in plain}
        over = f"; − {row.method}: {gain_cell(gains, itself=False)} points" if gains else ""
        lines.append(f"- {row.name}: {row.method} with {changed}{over}")
    return [*lines, ""]


def optional(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def protocol_section(protocol: dict[str, Any]) -> list[str]:
    """Markdown lines: a Protocol heading and the settings as a JSON block."""
    return ["## Protocol", "", "```json", json.dumps(protocol, indent=2), "```", ""]


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
