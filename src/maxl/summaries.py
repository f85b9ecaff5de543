"""The results of comparisons and sweeps as plain data: what compare and sweep compute and what
plots and reports draw, so that none of them imports another."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path


def sample_std(by_seed: dict[int, float]) -> float | None:
    """Sample standard deviation over seeds; 0 for one value, None for none."""
    values = list(by_seed.values())
    if not values:
        return None
    return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class MethodSummary:
    """One method's primary test accuracies (fractions) by seed, and their gain over single."""

    method: str
    accuracies: dict[int, float]
    gains: dict[int, float]  # seed -> accuracy − single's accuracy on that seed
    random_gains: dict[int, float] = dataclasses.field(default_factory=dict)  # − random's

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
        return sample_std(self.gains)

    @property
    def mean_random_gain(self) -> float | None:
        return statistics.fmean(self.random_gains.values()) if self.random_gains else None

    @property
    def std_random_gain(self) -> float | None:
        return sample_std(self.random_gains)


def seeds_won(gains: dict[int, float]) -> int:
    """Seeds on which the paired gain is above zero."""
    return sum(gain > 0 for gain in gains.values())


@dataclass(frozen=True)
class SweepPoint:
    """One value of the swept setting: its folder and each method's results over seeds."""

    label: str  # the value as written on the command line
    folder: Path
    summaries: list[MethodSummary]
    last_metrics: dict[str, dict[str, float]]  # method -> analysis key -> mean over seeds
