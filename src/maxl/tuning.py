"""Tuning the single-task baseline before any comparison (`--tune-single`, `tune_single:`).

Single-task runs at every point of a small grid (e.g. lr × momentum), on the comparison's seeds,
each with a seeded share of its training images held out as a validation split; the point with
the best mean validation accuracy after the last epoch is chosen, and every method of the
comparison then trains with it on the full training set. The test set is never looked at.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maxl.config import NOT_VARIED, TrainConfig, convert_field
from maxl.errors import MaxlError
from maxl.jobs import Log, RunPool, TrainFn
from maxl.run_folder import read_metrics, write_atomic
from maxl.step import NonFiniteLoss
from maxl.summaries import sample_std

CONVERGENCE_EPOCHS = 3  # the rise of validation accuracy over this many last epochs is reported


@dataclass(frozen=True)
class Tuning:
    """The grid to search (setting -> values), the validation share of the training images
    (0: the dataset's own validation split) and on how many of the comparison's seeds (the
    first ones) each point runs (None: all): a large training set's validation split is big
    enough on fewer seeds."""

    grid: dict[str, list[Any]]
    val_fraction: float = 0.1
    seeds: int | None = None

    def seeds_of(self, seeds: Sequence[int]) -> list[int]:
        """The comparison's seeds this tuning runs on: the first `self.seeds` (all of them
        where there are no more)."""
        return list(seeds[: self.seeds])

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values, in the order given."""
        names = list(self.grid)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]


@dataclass(frozen=True)
class TuningPoint:
    """One grid point: its settings, validation accuracy by seed (0 where it diverged), and
    the mean curve."""

    settings: dict[str, Any]
    val_accuracies: dict[int, float]
    val_curve: list[float]  # mean over seeds of val_accuracy, epoch by epoch

    @property
    def mean(self) -> float:
        return statistics.fmean(self.val_accuracies.values())

    @property
    def std(self) -> float:
        return sample_std(self.val_accuracies) or 0.0

    @property
    def late_rise(self) -> float:
        """Mean validation accuracy at the last epoch minus the best before the last
        CONVERGENCE_EPOCHS epochs: at most about 0 once the run has converged."""
        curve = self.val_curve
        if len(curve) <= CONVERGENCE_EPOCHS:
            return float("nan")
        return curve[-1] - max(curve[:-CONVERGENCE_EPOCHS])

    def label(self) -> str:
        return "-".join(f"{name}-{value}" for name, value in self.settings.items())


@dataclass(frozen=True)
class TuningResult:
    points: list[TuningPoint]
    val_fraction: float
    method: str = "single"

    @property
    def runs(self) -> int:
        return sum(len(point.val_accuracies) for point in self.points)

    @property
    def best(self) -> TuningPoint:
        return max(self.points, key=lambda point: point.mean)  # the first of equals


def grid_edges(result: TuningResult) -> list[str]:
    """The chosen point's settings that sit at an end of their axis of the grid ('lr 0.2, the
    largest'): a better setting may lie beyond them. Zero at the low end is a natural bound, not
    an edge; an axis of one value is not searched."""
    edges = []
    for name, chosen in result.best.settings.items():
        values = {point.settings[name] for point in result.points}
        if len(values) < 2 or not all(isinstance(v, (int, float)) for v in values):
            continue
        if chosen == max(values):
            edges.append(f"{name} {chosen}, the largest tried")
        elif chosen == min(values) and chosen != 0:
            edges.append(f"{name} {chosen}, the smallest tried")
    return edges


def parse_tuning(items: Sequence[str] | dict[str, Any], where: str) -> Tuning | None:
    """['lr=0.05,0.1', 'momentum=0,0.9'] (command line) or {'lr': [...], ...} (config file)
    -> a Tuning; 'off' / None -> None. Values are typed like TrainConfig's fields; the key
    'val_fraction' sets the validation share, 'seeds' how many of the comparison's seeds."""
    if items is None or list(items) == ["off"] or items == "off":
        return None
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            name, sep, values = str(item).partition("=")
            if not sep or not values:
                raise MaxlError(
                    f"{where}: {item!r} is not SETTING=V1,V2,...; write e.g. lr=0.05,0.1 "
                    "momentum=0,0.9 (or off)"
                )
            pairs.append((name, values.split(",")))
    fields = TrainConfig.__dataclass_fields__
    grid: dict[str, list[Any]] = {}
    val_fraction = 0.1
    seeds = None
    for key, values in pairs:
        name = str(key).replace("-", "_")
        single = values[0] if isinstance(values, list) and len(values) == 1 else values
        if name == "val_fraction":
            val_fraction = float(convert_field(name, single, where))
            continue
        if name == "seeds":
            seeds = whole_number(single, f"{where}: seeds")
            continue
        if name not in fields or name in NOT_VARIED:
            allowed = ", ".join(f for f in fields if f not in NOT_VARIED)
            raise MaxlError(f"{where}: cannot tune {key!r}; tune one of {allowed}")
        listed = values if isinstance(values, list) else [values]
        if not listed:
            raise MaxlError(f"{where}: {key} has no values; give e.g. {key}=0.05,0.1")
        grid[name] = [convert_field(name, v, where) for v in listed]
    if not grid:
        raise MaxlError(f"{where}: nothing to tune; give e.g. lr=0.05,0.1")
    if not 0 < val_fraction < 1:
        raise MaxlError(f"{where}: val_fraction {val_fraction} must be strictly between 0 and 1")
    return Tuning(grid, val_fraction, seeds)


def whole_number(value: Any, where: str) -> int:
    """A count of at least 1, or one clear error."""
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise MaxlError(f"{where}: {value!r} is not a whole number of at least 1")
    return number


def tune_single(
    base: TrainConfig,
    tuning: Tuning,
    seeds: Sequence[int],
    out: Path,
    train_fn: TrainFn,
    log: Log,
    pool: RunPool | None = None,
) -> TuningResult:
    """Train single at every grid point and seed (seed-major) into OUT/POINT/single-seedS,
    score each on its validation split, and return every point's scores."""
    return tune_method("single", base, tuning, seeds, out, log, pool or RunPool(train_fn))


def tune_method(
    method: str,
    base: TrainConfig,
    tuning: Tuning,
    seeds: Sequence[int],
    out: Path,
    log: Log,
    pool: RunPool,
    *,
    name: str | None = None,
) -> TuningResult:
    """Train `method` at every grid point and seed (seed-major) into OUT/POINT/METHOD-seedS,
    each on its seed's training images less a validation split, and score each point by its
    validation accuracy after the last epoch (a diverged run scores 0). The test set is not
    read. `name` is the row being tuned where it is a variant of `method`."""
    points = tuning.points()
    name = name or method
    configs, where = [], []
    for seed in seeds:
        for index, settings in enumerate(points):
            label = TuningPoint(settings, {}, []).label()
            configs.append(
                dataclasses.replace(
                    base,
                    **settings,
                    method=method,
                    seed=seed,
                    val_fraction=tuning.val_fraction,
                    out=out / label / f"{method}-seed{seed}",
                )
            )
            where.append((index, seed, label))
    log(f"tuning {name}: {len(points)} setting(s) x {len(seeds)} seed(s)")
    scores: list[dict[int, float]] = [{} for _ in points]
    curves: list[dict[int, list[float]]] = [{} for _ in points]
    for (index, seed, label), config, outcome in zip(
        where, configs, pool.run(configs, log), strict=True
    ):
        if isinstance(outcome, NonFiniteLoss):  # a diverging setting loses; the search goes on
            log(f"tuning {name}, {label}, seed {seed}: diverged ({outcome})")
            scores[index][seed] = 0.0
            curves[index][seed] = []
            continue
        scores[index][seed] = float(outcome["val_accuracy"])
        curves[index][seed] = val_curve(config.out)
    result_points = [
        TuningPoint(settings, scores[i], mean_curve(list(curves[i].values())))
        for i, settings in enumerate(points)
    ]
    result = TuningResult(result_points, tuning.val_fraction, name)
    edges = grid_edges(result)
    if edges:
        log(f"tuning {name}: the choice is at the edge of the grid ({'; '.join(edges)}); a "
            "better setting may lie beyond: widen the grid there")  # fmt: skip
    return result


def val_curve(run_dir: Path | None) -> list[float]:
    """val_accuracy epoch by epoch from a run's metrics.jsonl."""
    assert run_dir is not None
    return [float(record["val_accuracy"]) for record in read_metrics(run_dir)]


def mean_curve(curves: list[list[float]]) -> list[float]:
    """The epoch-by-epoch mean of several curves, as long as the shortest (a diverged run's
    curve is empty)."""
    length = min(len(curve) for curve in curves)
    return [statistics.fmean(curve[i] for curve in curves) for i in range(length)]


def tuning_table(result: TuningResult) -> str:
    """Markdown: each grid point's validation accuracy (%), its late rise, the chosen one."""
    best = result.best
    lines = [
        f"| setting | validation accuracy (%) | rise over the last {CONVERGENCE_EPOCHS} epochs "
        "(points) | runs | |",
        "|---|---:|---:|---:|---|",
    ]
    for point in result.points:
        chosen = "**chosen**" if point is best else ""
        settings = ", ".join(f"{name} {value}" for name, value in point.settings.items())
        lines.append(
            f"| {settings} | {100 * point.mean:.2f} ± {100 * point.std:.2f} | "
            f"{rise_text(point.late_rise)} | {len(point.val_accuracies)} | {chosen} |"
        )
    return "\n".join(lines)


def rise_text(rise: float) -> str:
    """The late rise in points, or — for runs too short to have one."""
    return "—" if math.isnan(rise) else f"{100 * rise:+.2f}"


def tuning_section(result: TuningResult) -> list[str]:
    """Markdown lines for summary.md: how a method was tuned, the table and the chosen curve."""
    best = result.best
    curve = curve_text(best.val_curve)
    split = (
        f"trained on {100 * (1 - result.val_fraction):.0f} % of each seed's training images "
        f"and scored on the held-out {100 * result.val_fraction:.0f} % after the last epoch "
        "(the test set is not used)"
    )
    if result.val_fraction == 0:  # the dataset's own validation split
        split = (
            "trained on each seed's training images and scored on the dataset's own "
            "validation split after the last epoch (the test set is not used)"
        )
    seeds = sorted({seed for point in result.points for seed in point.val_accuracies})
    on = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    if result.method == "single":
        intro = (
            f"Single-task runs at every setting below on {on}, {split}. Every method "
            "above trains with the chosen setting on all the training images; the single row "
            "is single-task training at that setting."
        )
    else:
        intro = (
            f"{result.method} runs at every setting below, on {on} and the validation split "
            f"of single's tuning, at single's chosen setting, {split}; {result.runs} "
            f"runs, no more than single had. The {result.method} row above trains with the "
            "chosen setting on all the training images."
        )
    heading = "Single-task tuning" if result.method == "single" else f"Tuning of {result.method}"
    return [
        f"## {heading}",
        "",
        intro,
        "",
        tuning_table(result),
        "",
        *edge_note(result),
        f"Mean validation accuracy of the chosen setting, {curve}.",
        "",
    ]


def curve_text(curve: list[float], most: int = 30) -> str:
    """A validation curve in %: every epoch up to `most` epochs, else `most` epochs evenly
    spread (the last included), each named, so a long run's summary stays readable."""
    if len(curve) <= most:
        return "epoch by epoch (%): " + ", ".join(f"{100 * v:.2f}" for v in curve)
    epochs = sorted({round(i * (len(curve) - 1) / (most - 1)) + 1 for i in range(most)})
    shown = ", ".join(f"{e}: {100 * curve[e - 1]:.2f}" for e in epochs)
    return f"at {len(epochs)} of its {len(curve)} epochs (epoch: %): {shown}"


def edge_note(result: TuningResult) -> list[str]:
    """A paragraph saying where the choice sits at the edge of the grid (none if nowhere)."""
    edges = grid_edges(result)
    if not edges:
        return []
    return [
        f"The chosen setting is at the edge of the grid ({'; '.join(edges)}): a better one may "
        "lie beyond, so widen the grid there before reading the gains as final.",
        "",
    ]


def write_tuning_csv(path: Path, result: TuningResult) -> None:
    """One row per grid point: its settings, mean/std validation accuracy, late rise, chosen."""
    names = list(result.points[0].settings)
    columns = [*names, "mean_val_accuracy", "std_val_accuracy", "late_rise", "runs", "chosen"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for point in result.points:
        writer.writerow(
            {
                **point.settings,
                "mean_val_accuracy": f"{point.mean:.6f}",
                "std_val_accuracy": f"{point.std:.6f}",
                "late_rise": f"{point.late_rise:.6f}",
                "runs": len(point.val_accuracies),
                "chosen": int(point is result.best),
            }
        )
    write_atomic(path, lambda handle: handle.write(buffer.getvalue().encode()))
