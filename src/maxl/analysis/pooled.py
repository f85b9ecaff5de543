"""One method against another over a whole map: their test accuracies paired run by run (same
size, same seed) and pooled over the sizes, so that a difference too small to read at any one
size can be read over all of them. Read off finished runs; nothing is trained. Runs whose
folders are gone enter by their recorded summary (count, mean, spread, wins), which pools
exactly with the others."""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from maxl.errors import MaxlError
from maxl.run_folder import finished_runs, size_folders


@dataclass(frozen=True)
class PairedGain:
    """FIRST's test accuracy minus SECOND's, in points, for one size and seed."""

    size: int
    seed: int
    points: float


@dataclass(frozen=True)
class PooledGain:
    """Paired gains summarised: mean ± sample standard deviation, the runs FIRST won, the
    paired t statistic with its two-sided p, and the two-sided exact sign test's p (ties
    dropped). With one gain the spread and both tests are undefined (nan)."""

    mean: float
    std: float
    count: int
    wins: int
    t: float
    t_p: float
    sign_p: float


@dataclass(frozen=True)
class GainSummary:
    """Paired gains (points) known by their summary: how many, their mean and sample standard
    deviation (nan for one), how many were positive and how many exactly zero. All that
    pooling needs, so runs whose folders are gone can still be pooled from a recorded row."""

    count: int
    mean: float
    std: float
    wins: int
    ties: int = 0


def summarise_gains(points: Sequence[float]) -> GainSummary:
    """The summary of some paired gains (in points); raises on none."""
    if not points:
        raise MaxlError("no paired runs to pool: both methods need finished runs of the same seed")
    std = statistics.stdev(points) if len(points) > 1 else math.nan
    wins = sum(p > 0 for p in points)
    ties = sum(p == 0 for p in points)
    return GainSummary(len(points), statistics.fmean(points), std, wins, ties)


def combine(parts: Sequence[GainSummary]) -> GainSummary:
    """The summary of the union of disjoint groups of gains, from each group's summary alone:
    the counts add, the mean is the count-weighted mean, and the spread comes from each
    group's sum of squared deviations plus its mean's deviation from the whole."""
    if not parts:
        raise MaxlError("no paired runs to pool: both methods need finished runs of the same seed")
    count = sum(part.count for part in parts)
    mean = sum(part.count * part.mean for part in parts) / count
    squares = sum(
        (part.count - 1) * (part.std**2 if part.count > 1 else 0.0)
        + part.count * (part.mean - mean) ** 2
        for part in parts
    )
    std = math.sqrt(squares / (count - 1)) if count > 1 else math.nan
    wins = sum(part.wins for part in parts)
    return GainSummary(count, mean, std, wins, sum(part.ties for part in parts))


def paired_gains(map_folder: Path, first: str, second: str) -> list[PairedGain]:
    """FIRST − SECOND for every size and seed where both runs finished, by size then seed."""
    if not map_folder.is_dir():
        raise MaxlError(f"{map_folder} is not a folder; pass the --out folder of `maxl map`")
    sizes = size_folders(map_folder)
    if not sizes:
        raise MaxlError(
            f"{map_folder} holds no size-N folders; pass the --out folder of `maxl map`"
        )
    gains = []
    for size, folder in sizes:
        runs = finished_runs(folder)
        ours, theirs = runs.get(first, {}), runs.get(second, {})
        for seed in sorted(ours.keys() & theirs.keys()):
            points = 100 * (ours[seed]["test_accuracy"] - theirs[seed]["test_accuracy"])
            gains.append(PairedGain(size, seed, points))
    return gains


def pool(points: Sequence[float]) -> PooledGain:
    """The tests on paired gains (in points); raises on none."""
    return paired_tests(summarise_gains(points))


def paired_tests(summary: GainSummary) -> PooledGain:
    """The paired t test and the sign test (ties dropped) on summarised gains."""
    count, mean, std, wins = summary.count, summary.mean, summary.std, summary.wins
    if count < 2:
        return PooledGain(mean, math.nan, count, wins, math.nan, math.nan, math.nan)
    if std > 0:
        t = mean / (std / math.sqrt(count))
    else:  # every gain the same: certain unless they are all zero
        t = math.copysign(math.inf, mean) if mean else math.nan
    t_p = 2 * float(stats.t.sf(abs(t), count - 1))
    decided = count - summary.ties
    losses = decided - wins
    sign_p = min(1.0, 2 * float(stats.binom.cdf(min(wins, losses), decided, 0.5)))
    return PooledGain(mean, std, count, wins, t, t_p, sign_p)


@dataclass(frozen=True)
class RecordedRow:
    """FIRST − SECOND at one size over some seeds, known only by its summary (the runs'
    folders are gone; a results page recorded the row)."""

    first: str
    second: str
    size: int
    seeds: tuple[int, ...]
    summary: GainSummary


RECORDED_COLUMNS = ("first", "second", "size", "seeds", "mean", "std", "wins", "ties")


def read_recorded(path: Path) -> list[RecordedRow]:
    """The rows of a CSV with the columns RECORDED_COLUMNS (seeds space-separated, mean and
    std in points); one clear error naming the line for anything else."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise MaxlError(
            f"cannot read {path} ({error.strerror}); pass a recorded-rows CSV"
        ) from None
    reader = csv.DictReader(line for line in lines if not line.startswith("#"))
    missing = [c for c in RECORDED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise MaxlError(
            f"{path} lacks the column(s) {', '.join(missing)}; its header must be "
            + ",".join(RECORDED_COLUMNS)
        )
    rows = []
    for number, record in enumerate(reader, start=1):
        try:
            seeds = tuple(int(seed) for seed in record["seeds"].split())
            size = int(record["size"])
            summary = GainSummary(
                len(seeds),
                float(record["mean"]),
                float(record["std"]),
                int(record["wins"]),
                int(record["ties"] or 0),
            )
        except (AttributeError, TypeError, ValueError) as error:
            raise MaxlError(
                f"{path}, data row {number}: {error}; write numbers as in 0.25, seeds as 0 1 2"
            ) from None
        if not seeds or summary.wins + summary.ties > len(seeds):
            raise MaxlError(
                f"{path}, data row {number}: needs seeds, and no more wins and ties than seeds"
            )
        rows.append(RecordedRow(record["first"], record["second"], size, seeds, summary))
    return rows
