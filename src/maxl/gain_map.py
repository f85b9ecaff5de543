"""`maxl map`: where auxiliary labels help. The comparison (single tuned, then every method,
each tuned alike where the file says so) at several training-set sizes, each size trained for
its own number of epochs, into OUT/size-N; then one table and one figure of the tuned single's
accuracy and every method's paired gain over single and over random, size by size.

Each size is a `maxl compare` folder, so a killed map resumes where it stopped and reuses
every finished run."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from maxl.compare import gain_cell, optional, run_compare, summarise
from maxl.config import TrainConfig
from maxl.config_file import MapPlan
from maxl.jobs import TrainFn
from maxl.method_variants import Variant
from maxl.run_folder import finished_runs, read_results, size_folders, write_atomic
from maxl.summaries import MethodSummary, seeds_won
from maxl.tuning import Tuning
from maxl.types import Log

MAP_COLUMNS = (
    "train_size",
    "epochs",
    "generator_steps",
    "method",
    "mean_accuracy",
    "std_accuracy",
    "mean_gain_over_single",
    "std_gain_over_single",
    "seeds_won_over_single",
    "mean_gain_over_random",
    "std_gain_over_random",
    "seeds_won_over_random",
    "runs",
)


@dataclass(frozen=True)
class MapRow:
    """One size: its epochs, MAXL's generator steps, every method's summary and the seeds its
    tunings ran on (None: every seed, or no tuning)."""

    size: int
    epochs: int
    generator_steps: int
    summaries: list[MethodSummary]
    tune_seeds: int | None = None

    def summary(self, method: str) -> MethodSummary | None:
        return next((s for s in self.summaries if s.method == method), None)


def generator_steps(config: TrainConfig, size: int) -> int:
    """MAXL's generator steps over a run on `size` training images (no validation split):
    the paper's schedule steps on every meta_every-th batch of each epoch's generator pass,
    the fused one on every meta_every-th batch of the whole run. With a hold-out meta split,
    the batches are those of the images left for training; a last batch of one image is
    dropped, as the engine drops it."""
    kept = size
    if config.meta_data.startswith("holdout:"):
        kept = size - round(size * float(config.meta_data.partition(":")[2]))
    batches = math.ceil(kept / config.batch_size) - (kept % config.batch_size == 1 and kept > 1)
    if config.schedule == "batches":
        return math.ceil(config.epochs * batches / config.meta_every)
    return config.epochs * math.ceil(batches / config.meta_every)


def generator_steps_run(folder: Path, seed: int) -> int:
    """generator_steps of the maxl run the comparison in `folder` made (with its own tuned
    settings and its training rows), read from its results.json."""
    results = read_results(folder / f"maxl-seed{seed}")
    assert results is not None, "the map reads the maxl runs it has just finished"
    names = ("batch_size", "epochs", "meta_every", "schedule", "meta_data")
    ran = TrainConfig(**{name: results["config"][name] for name in names})
    return generator_steps(ran, int(results["num_train"]))


def run_map(
    base: TrainConfig,
    plan: MapPlan,
    methods: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    log: Log = print,
    tuning: Tuning | None = None,
    method_tunings: dict[str, Tuning] | None = None,
    *,
    jobs: int = 1,
    threads: int | None = None,
    train_fn: TrainFn | None = None,
    variants: dict[str, Variant] | None = None,
) -> list[MapRow]:
    """Compare the methods at every size (OUT/size-N), then write map.csv, map.md, map.png;
    return the rows of every size the folder holds."""
    rows: list[MapRow] = []
    mapped: list[MapRow] = []
    for index, size in enumerate(plan.sizes):
        epochs = plan.epochs[index] if plan.epochs else base.epochs
        config = dataclasses.replace(base, train_size=size, epochs=epochs, eval_every=epochs)
        log(f"map: {size} training images, {epochs} epochs")
        size_tuning = tuning
        if tuning is not None and plan.tune_seeds:
            size_tuning = dataclasses.replace(tuning, seeds=plan.tune_seeds[index])
        summaries, _, _ = run_compare(
            config,
            methods,
            seeds,
            out / f"size-{size}",
            log,
            size_tuning,
            train_fn,
            method_tunings=method_tunings,
            jobs=jobs,
            threads=threads,
            variants=variants,
        )
        steps = generator_steps_run(out / f"size-{size}", seeds[0]) if "maxl" in methods else 0
        tuned_on = None
        if size_tuning is not None and size_tuning.seeds is not None:
            tuned_on = len(size_tuning.seeds_of(seeds))
        rows.append(MapRow(size, epochs, steps, summaries, tuned_on))
        mapped = with_saved_rows(out, rows, methods)
        write_map(out, base, mapped)
    return mapped


def with_saved_rows(out: Path, rows: Sequence[MapRow], methods: Sequence[str]) -> list[MapRow]:
    """`rows` and the rows of every other OUT/size-N folder an earlier map finished, by size:
    the map of the whole folder, not only of the sizes run this time."""
    done = {row.size for row in rows}
    saved = [
        row
        for size, folder in size_folders(out)
        if size not in done and (row := saved_row(folder, methods)) is not None
    ]
    return sorted([*rows, *saved], key=lambda row: row.size)


def saved_row(folder: Path, methods: Sequence[str]) -> MapRow | None:
    """The row of a size folder read from its finished runs (NAME-seedS), on the seeds every
    method that ran there finished; None where there are none."""
    finished = finished_runs(folder)
    ran = {name: finished[name] for name in methods if name in finished}
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in ran.values()))) if ran else []
    if not seeds:
        return None
    accuracies = {
        name: {seed: float(by_seed[seed]["test_accuracy"]) for seed in seeds}
        for name, by_seed in ran.items()
    }
    first = next(iter(ran.values()))[seeds[0]]
    steps = generator_steps_run(folder, seeds[0]) if "maxl" in ran else 0
    size = int(folder.name.removeprefix("size-"))
    return MapRow(size, int(first["epochs"]), steps, summarise(accuracies))


def map_methods(rows: Sequence[MapRow]) -> list[str]:
    """Every method but single that any row has, in the order they first appear."""
    names = [s.method for row in rows for s in row.summaries if s.method != "single"]
    return list(dict.fromkeys(names))


def gap_closed(row: MapRow, method: str = "maxl") -> float | None:
    """The share of the single → human gain that `method` reaches (None where human does not
    gain over single)."""
    human, other = row.summary("human"), row.summary(method)
    if human is None or other is None or not human.mean_gain or human.mean_gain <= 0:
        return None
    return (other.mean_gain or 0.0) / human.mean_gain


def map_table(rows: Sequence[MapRow]) -> str:
    """Markdown: per size, the tuned single's accuracy and each method's paired gains."""
    methods = map_methods(rows)
    head = ["training images", "epochs", "generator steps", "single (tuned) %"]
    head += [f"{m} − single" for m in methods]
    head += [f"{m} − random" for m in methods if m not in ("random",)]
    head += ["gap closed by maxl"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for row in rows:
        single = row.summary("single")
        cells = [
            str(row.size),
            str(row.epochs),
            str(row.generator_steps),
            "—" if single is None else f"{100 * single.mean:.2f} ± {100 * single.std:.2f}",
        ]
        for method in methods:
            found = row.summary(method)
            cells.append(gain_cell(found.gains if found else {}, itself=False))
        for method in methods:
            if method != "random":
                found = row.summary(method)
                cells.append(gain_cell(found.random_gains if found else {}, itself=False))
        closed = gap_closed(row)
        cells.append("—" if closed is None else f"{100 * closed:.0f} %")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_map(out: Path, base: TrainConfig, rows: Sequence[MapRow]) -> None:
    """map.csv (fractions, one row per size and method), map.md and map.png."""
    from maxl.report.figures import map_figure

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MAP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for s in row.summaries:
            writer.writerow(
                {
                    "train_size": row.size,
                    "epochs": row.epochs,
                    "generator_steps": row.generator_steps,
                    "method": s.method,
                    "mean_accuracy": f"{s.mean:.6f}",
                    "std_accuracy": f"{s.std:.6f}",
                    "mean_gain_over_single": optional(s.mean_gain),
                    "std_gain_over_single": optional(s.std_gain),
                    "seeds_won_over_single": seeds_won(s.gains) if s.gains else "",
                    "mean_gain_over_random": optional(s.mean_random_gain),
                    "std_gain_over_random": optional(s.std_random_gain),
                    "seeds_won_over_random": seeds_won(s.random_gains) if s.random_gains else "",
                    "runs": len(s.accuracies),
                }
            )
    write_atomic(out / "map.csv", lambda handle: handle.write(buffer.getvalue().encode()))
    level = f", primary level {base.primary_level}" if base.primary_level else ""
    text = "\n".join(
        [
            f"# Where auxiliary labels help: {base.dataset}{level}",
            "",
            "Per training-set size: the tuned single's primary test accuracy after the last "
            "epoch (mean ± sample standard deviation over seeds) and each method's gain over "
            "single and over random in points, paired by seed, with the seeds won. 'gap closed' "
            "is MAXL's gain over single as a share of human labels' gain (where human gains). "
            "Each size's folder (size-N/summary.md) holds its tunings and per-seed numbers."
            + tuning_seeds_note(rows)
            + seeds_due_note(rows),
            "",
            map_table(rows),
            "",
            "![gain over single by training-set size](map.png)",
            "",
        ]
    )
    write_atomic(out / "map.md", lambda handle: handle.write(text.encode()))
    map_figure(rows, out / "map.png", title=f"{base.dataset}{level}", methods=map_methods(rows))


def tuning_seeds_note(rows: Sequence[MapRow]) -> str:
    """A sentence giving the seeds each size's tunings ran on, where the map sets them per size
    ('' where it does not)."""
    given = [f"{row.tune_seeds} at {row.size} images" for row in rows if row.tune_seeds]
    if not given:
        return ""
    return f" The tunings ran on the first seeds of each size: {', '.join(given)}."


def seeds_due(rows: Sequence[MapRow], wanted: int = 5) -> list[tuple[int, str]]:
    """(size, method) of every gain over single within twice its spread on fewer than `wanted`
    seeds: where the protocol asks for more seeds before the gain is read."""
    due = []
    for row in rows:
        for s in row.summaries:
            if s.method == "single" or s.mean_gain is None or len(s.gains) >= wanted:
                continue
            if abs(s.mean_gain) <= 2 * (s.std_gain or 0.0):
                due.append((row.size, s.method))
    return due


def seeds_due_note(rows: Sequence[MapRow], wanted: int = 5) -> str:
    """A sentence naming the gains that want more seeds ('' where none does)."""
    due = seeds_due(rows, wanted)
    if not due:
        return ""
    sizes = sorted({size for size, _ in due})
    cells = "; ".join(
        f"{size} images: {', '.join(m for n, m in due if n == size)}" for size in sizes
    )
    return (
        f" Gains within twice their spread on fewer than {wanted} seeds, due more seeds before "
        f"they are read: {cells}."
    )
