"""The pure grouping behind the image grids, and the figure functions on hand-made records."""

import matplotlib.image
import numpy as np
import pytest

from maxl.report.figures import (
    aux_class_figure,
    aux_usage_figure,
    band,
    overlay_figures,
    tile_mosaic,
)
from maxl.report.grid import AuxRow, group_rows, pick_classes
from maxl.run_folder import AuxLabels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 0 and pixels.shape[1] > 0


def test_pick_classes_prefers_the_largest_psi_and_breaks_ties_by_index():
    assert pick_classes([1, 3, 2, 3, 1], limit=4) == [1, 3, 2, 0]
    assert pick_classes([2, 2, 2], limit=4) == [0, 1, 2]
    assert pick_classes([5, 1], limit=1) == [0]


def test_group_rows_orders_by_confidence_caps_and_counts_within_the_block():
    # psi [2, 3]: class 0 owns aux 0..1, class 1 owns aux 2..4.
    primary = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    aux = np.array([2, 3, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    confidence = np.array([0.5, 0.9, 1.0, 0.7, 0.6, 0.95, 0.1, 0.2, 0.3, 0.4, 0.8, 0.85, 0.6])
    rows = np.arange(100, 113)  # dataset rows differ from positions in the file
    labels = AuxLabels(rows=rows, primary=primary, aux=aux, confidence=confidence, psi=[2, 3])
    grouped = group_rows(labels, 1, per_row=8)
    # aux 2 holds positions 0,3,4,5,6,7,8,9,10,11,12 (11 images of class 1's 12).
    # By confidence: 5 (.95), 11 (.85), 10 (.8), 3 (.7), 4 (.6), 12 (.6, later), 0 (.5), 9 (.4)
    assert grouped == [
        AuxRow(2, [105, 111, 110, 103, 104, 112, 100, 109], 11, pytest.approx(11 / 12)),
        AuxRow(3, [101], 1, pytest.approx(1 / 12)),
        AuxRow(4, [], 0, 0.0),
    ]
    assert group_rows(labels, 0, per_row=8) == [AuxRow(0, [102], 1, 1.0), AuxRow(1, [], 0, 0.0)]
    assert group_rows(labels, 1, per_row=2)[0].rows == [105, 111]


def test_group_rows_of_a_class_without_images_gives_empty_rows():
    labels = AuxLabels(
        rows=np.array([0]),
        primary=np.array([0]),
        aux=np.array([0]),
        confidence=np.array([1.0]),
        psi=[1, 2],
    )
    assert group_rows(labels, 1) == [AuxRow(1, [], 0, 0.0), AuxRow(2, [], 0, 0.0)]


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


def records(epochs=4, analysis=True, k=6):
    out = []
    for e in range(1, epochs + 1):
        r = {
            "epoch": e,
            "lr": 0.01,
            "train_loss": 2.0 / e,
            "train_primary_loss": 1.5 / e,
            "train_aux_loss": 0.5 / e,
            "epoch_time_s": 0.1,
        }
        if e % 2 == 0:
            r.update(test_accuracy=0.5 + 0.1 * e, test_loss=1.0 / e)
        if analysis:
            usage = np.linspace(1, 2, k) * e
            r.update(
                grad_cosine=0.2 - 0.1 * e,
                aux_entropy=1.0 / e,
                aux_marginal_entropy=1.5,
                aux_usage=list(usage / usage.sum()),
                nmi_human=0.1 * e,
            )
        out.append(r)
    return out


def test_figures_cope_with_rgb_images_and_a_psi_that_does_not_fit(tmp_path):
    # (show's tests draw the usual case: grey digits, a fitting ψ, every run figure)
    aux_usage_figure(records(k=6), tmp_path / "usage.png", psi=[5, 5])  # no blocks drawn
    images = np.random.default_rng(0).integers(0, 256, (20, 3, 8, 8), dtype=np.uint8)
    grid = [AuxRow(0, [3, 1, 4], 3, 0.75), AuxRow(1, [], 0, 0.0), AuxRow(2, [9], 1, 0.25)]
    aux_class_figure(images, grid, tmp_path / "grid.png", "class 0")
    for name in ("usage", "grid"):
        assert_png(tmp_path / f"{name}.png")


def test_the_mosaic_puts_each_image_in_its_tile():
    images = np.stack([np.full((1, 2, 2), v, dtype=np.uint8) for v in (10, 20, 30)])
    tile = tile_mosaic(images, [[2, 0], [], [1]], per_row=2)  # pad 1 around 2x2 tiles
    assert tile.mosaic.shape == (3 * 3 + 1, 2 * 3 + 1, 3)
    assert (tile.mosaic[1:3, 1:3] == 30).all() and (tile.mosaic[1:3, 4:6] == 10).all()
    assert (tile.mosaic[4:6, 1:6] == 255).all()  # the empty row stays white
    assert (tile.mosaic[7:9, 1:3] == 20).all() and (tile.mosaic[7:9, 4:6] == 255).all()
    assert tile.centre(2) == pytest.approx(7.5)


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
