"""A diagnosis of a finished tuning, read after the choice and never used to make it: would the
point chosen on validation also have been the best on the test set, and would the validation
loss have chosen better than the validation accuracy? Small validation splits choose by noise;
this says where they did."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from maxl.run_folder import read_metrics, read_results


@dataclass(frozen=True)
class PointScores:
    """One grid point's mean over its seeds: validation accuracy and loss after the last epoch,
    and the test accuracy of the same tuning runs."""

    label: str
    val_accuracy: float
    val_loss: float
    test_accuracy: float
    runs: int


@dataclass(frozen=True)
class TuningCheck:
    """The points chosen by validation accuracy (as the tuning chooses), by validation loss, and
    the best by test accuracy."""

    by_accuracy: PointScores
    by_loss: PointScores
    best_on_test: PointScores


def point_scores(tuning_folder: Path) -> list[PointScores]:
    """Every point of a tuning folder (OUT/tune or OUT/tune-METHOD: one folder per point, one
    run per seed inside), over its finished runs, in folder-name order."""
    points = []
    for point in sorted(p for p in tuning_folder.iterdir() if p.is_dir()):
        finished = [(run, results) for run in sorted(point.iterdir())
                    if (results := read_results(run)) is not None]  # fmt: skip
        if not finished:
            continue
        points.append(
            PointScores(
                point.name,
                statistics.fmean(results["val_accuracy"] for _, results in finished),
                statistics.fmean(read_metrics(run)[-1]["val_loss"] for run, _ in finished),
                statistics.fmean(results["test_accuracy"] for _, results in finished),
                len(finished),
            )
        )
    return points


def check_tuning(points: list[PointScores]) -> TuningCheck:
    """The three choices; a tie goes to the first point in the list (the tuning itself breaks
    ties by the grid's order, which its tuning.csv shows)."""
    return TuningCheck(
        by_accuracy=max(points, key=lambda p: p.val_accuracy),
        by_loss=min(points, key=lambda p: p.val_loss),
        best_on_test=max(points, key=lambda p: p.test_accuracy),
    )
