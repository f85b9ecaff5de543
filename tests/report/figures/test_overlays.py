"""Runs grouped on one figure: the mean and min..max band, and figures without data left out."""

import pytest
from figure_helpers import assert_png, records

from maxl.report.figures.overlays import band, overlay_figures


def test_band_is_mean_min_max_per_epoch_over_the_runs_that_have_it():
    runs = [
        [{"epoch": 1, "test_accuracy": 0.5}, {"epoch": 2, "test_accuracy": 0.7}],
        [{"epoch": 1, "test_accuracy": 0.6}, {"epoch": 2}],
        [{"epoch": 1}],
    ]
    epochs, mean, low, high, count = band(runs, "test_accuracy", scale=100)
    assert epochs == [1, 2] and count == 2
    assert mean == pytest.approx([55.0, 70.0])
    assert low == pytest.approx([50.0, 70.0]) and high == pytest.approx([60.0, 70.0])
    assert band(runs, "grad_cosine") is None


def test_overlay_figures_take_any_group_labels_and_leave_out_what_has_no_data(tmp_path):
    groups = {"psi=2": [records(), records()], "psi=5": [records(epochs=3)]}
    written = overlay_figures(groups, tmp_path)
    assert [p.name for p in written] == [
        "accuracy.png",
        "losses.png",
        "gradient_cosine.png",
        "labels.png",
    ]
    for path in written:
        assert_png(path)
    bare = tmp_path / "bare"
    bare.mkdir()
    written = overlay_figures({"single": [records(analysis=False)]}, bare, {"single": "#7f7f7f"})
    assert [p.name for p in written] == ["accuracy.png", "losses.png"]
    assert sorted(p.name for p in bare.iterdir()) == ["accuracy.png", "losses.png"]
