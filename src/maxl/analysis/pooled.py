"""One method against another over a whole map: their test accuracies paired run by run (same
size, same seed) and pooled over the sizes, so that a difference too small to read at any one
size can be read over all of them. Read off finished runs; nothing is trained."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from maxl.errors import MaxlError
from maxl.run_folder import read_results


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


def map_sizes(map_folder: Path) -> list[tuple[int, Path]]:
    """The map's size folders (OUT/size-N), smallest first."""
    if not map_folder.is_dir():
        raise MaxlError(f"{map_folder} is not a folder; pass the --out folder of `maxl map`")
    sizes = []
    for folder in map_folder.iterdir():
        found = re.fullmatch(r"size-(\d+)", folder.name)
        if found and folder.is_dir():
            sizes.append((int(found.group(1)), folder))
    if not sizes:
        raise MaxlError(
            f"{map_folder} holds no size-N folders; pass the --out folder of `maxl map`"
        )
    return sorted(sizes)


def seed_accuracies(size_folder: Path, method: str) -> dict[int, float]:
    """The finished runs of METHOD in one size folder (METHOD-seedS), test accuracy by seed."""
    accuracies = {}
    for run in size_folder.iterdir():
        found = re.fullmatch(re.escape(method) + r"-seed(\d+)", run.name)
        if found and (results := read_results(run)) is not None:
            accuracies[int(found.group(1))] = float(results["test_accuracy"])
    return accuracies


def paired_gains(map_folder: Path, first: str, second: str) -> list[PairedGain]:
    """FIRST − SECOND for every size and seed where both runs finished, by size then seed."""
    gains = []
    for size, folder in map_sizes(map_folder):
        ours, theirs = seed_accuracies(folder, first), seed_accuracies(folder, second)
        for seed in sorted(ours.keys() & theirs.keys()):
            gains.append(PairedGain(size, seed, 100 * (ours[seed] - theirs[seed])))
    return gains


def pool(points: Sequence[float]) -> PooledGain:
    """The summary of paired gains (in points); raises on none."""
    if not points:
        raise MaxlError("no paired runs to pool: both methods need finished runs of the same seed")
    count = len(points)
    mean = statistics.fmean(points)
    wins = sum(p > 0 for p in points)
    if count < 2:
        return PooledGain(mean, math.nan, 1, wins, math.nan, math.nan, math.nan)
    std = statistics.stdev(points)
    if std > 0:
        t = mean / (std / math.sqrt(count))
    else:  # every gain the same: certain unless they are all zero
        t = math.copysign(math.inf, mean) if mean else math.nan
    t_p = 2 * float(stats.t.sf(abs(t), count - 1))
    decided = [p for p in points if p != 0]
    losses = len(decided) - wins
    sign_p = min(1.0, 2 * float(stats.binom.cdf(min(wins, losses), len(decided), 0.5)))
    return PooledGain(mean, std, count, wins, t, t_p, sign_p)
