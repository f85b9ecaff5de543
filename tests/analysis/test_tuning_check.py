"""The diagnosis of a tuning: each point's means over its finished runs, computed by hand here,
and the point each criterion picks."""

from __future__ import annotations

import pytest

from maxl.analysis.tuning_check import check_tuning, point_scores
from maxl.run_folder import write_metrics, write_results


def write_run(folder, val_accuracy, val_loss, test_accuracy):
    folder.mkdir(parents=True)
    write_metrics(folder, [{"epoch": 1, "val_loss": 9.0}, {"epoch": 2, "val_loss": val_loss}])
    write_results(folder, {"val_accuracy": val_accuracy, "test_accuracy": test_accuracy})


def test_each_criterion_picks_its_own_point_from_the_runs_means(tmp_path):
    # lr-0.1 wins on validation accuracy, lr-0.2 on validation loss, lr-0.3 on the test set
    write_run(tmp_path / "lr-0.1" / "single-seed0", 0.80, 0.50, 0.60)
    write_run(tmp_path / "lr-0.1" / "single-seed1", 0.70, 0.70, 0.62)
    write_run(tmp_path / "lr-0.2" / "single-seed0", 0.70, 0.30, 0.64)
    write_run(tmp_path / "lr-0.2" / "single-seed1", 0.72, 0.40, 0.66)
    write_run(tmp_path / "lr-0.3" / "single-seed0", 0.60, 0.90, 0.70)
    (tmp_path / "lr-0.3" / "single-seed1").mkdir()  # unfinished: not counted
    points = point_scores(tmp_path)
    assert [p.label for p in points] == ["lr-0.1", "lr-0.2", "lr-0.3"]
    first = points[0]
    assert (first.val_accuracy, first.val_loss, first.test_accuracy, first.runs) == pytest.approx(
        (0.75, 0.60, 0.61, 2)  # the last epoch's loss, not the first's
    )
    assert points[2].runs == 1
    check = check_tuning(points)
    assert check.by_accuracy.label == "lr-0.1"
    assert check.by_loss.label == "lr-0.2" and check.by_loss.val_loss == pytest.approx(0.35)
    assert check.best_on_test.label == "lr-0.3"
