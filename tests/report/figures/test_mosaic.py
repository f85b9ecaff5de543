"""The image grids: tiles in their places, and RGB images drawn."""

import numpy as np
import pytest
from figure_helpers import assert_png

from maxl.report.figures.mosaic import aux_class_figure, tile_mosaic
from maxl.report.grid import AuxRow


def test_the_grid_figure_copes_with_rgb_images(tmp_path):
    # (show's tests draw the usual case: grey digits)
    images = np.random.default_rng(0).integers(0, 256, (20, 3, 8, 8), dtype=np.uint8)
    grid = [AuxRow(0, [3, 1, 4], 3, 0.75), AuxRow(1, [], 0, 0.0), AuxRow(2, [9], 1, 0.25)]
    aux_class_figure(images, grid, tmp_path / "grid.png", "class 0")
    assert_png(tmp_path / "grid.png")


def test_the_mosaic_puts_each_image_in_its_tile():
    images = np.stack([np.full((1, 2, 2), v, dtype=np.uint8) for v in (10, 20, 30)])
    tile = tile_mosaic(images, [[2, 0], [], [1]], per_row=2)  # pad 1 around 2x2 tiles
    assert tile.mosaic.shape == (3 * 3 + 1, 2 * 3 + 1, 3)
    assert (tile.mosaic[1:3, 1:3] == 30).all() and (tile.mosaic[1:3, 4:6] == 10).all()
    assert (tile.mosaic[4:6, 1:6] == 255).all()  # the empty row stays white
    assert (tile.mosaic[7:9, 1:3] == 20).all() and (tile.mosaic[7:9, 4:6] == 255).all()
    assert tile.centre(2) == pytest.approx(7.5)
