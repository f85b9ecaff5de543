"""One method against another over a whole map: their test accuracies paired run by run (same
size, same seed) and pooled over the sizes, so that a difference too small to read at any one
size can be read over all of them. Read off finished runs; nothing is trained."""

from __future__ import annotations

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
