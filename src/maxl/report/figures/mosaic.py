"""The image grids of `maxl show`: training images pasted in rows, one row per auxiliary class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from maxl.report.figures.common import pyplot, save_png

if TYPE_CHECKING:
    from maxl.report.grid import AuxRow


def aux_class_figure(
    images: np.ndarray,
    groups: Sequence[AuxRow],
    path: Path,
    title: str,
    per_row: int = 8,
) -> None:
    """One row per auxiliary class of one primary class: its label (class index, images it got)
    and up to `per_row` of its training images, most confident first. `images`: uint8 [N,C,H,W].
    The tiles are pasted into one picture (one axes instead of one per image: 20× faster)."""
    plt = pyplot()
    tile = tile_mosaic(images, [g.rows[:per_row] for g in groups], per_row)
    rows = max(1, len(groups))
    fig = plt.figure(figsize=(0.8 * per_row + 1.6, 0.8 * rows + 0.5))
    ax = fig.add_axes(
        (
            1.5 / (0.8 * per_row + 1.6),
            0.02,
            0.8 * per_row / (0.8 * per_row + 1.6),
            0.8 * rows / (0.8 * rows + 0.5),
        )
    )
    ax.imshow(tile.mosaic, interpolation="nearest", aspect="auto")
    ax.axis("off")
    for r, group in enumerate(groups):
        y = tile.centre(r)
        ax.text(
            -tile.pad,
            y,
            f"aux {group.aux_class}\n{group.count} ({100 * group.share:.0f}%)",
            ha="right",
            va="center",
            fontsize=9,
        )
        if not group.rows:
            ax.text(tile.pad, y, "(no images)", va="center", fontsize=9, color="grey")
    fig.suptitle(title, fontsize=10, y=0.995, va="top")
    save_png(fig, path)


@dataclass(frozen=True)
class Mosaic:
    """Image tiles pasted on a white RGB canvas, `pad` pixels apart."""

    mosaic: np.ndarray  # uint8 [rows*(H+pad)+pad, per_row*(W+pad)+pad, 3]
    height: int
    pad: int

    def centre(self, row: int) -> float:
        return self.pad + row * (self.height + self.pad) + (self.height - 1) / 2


def tile_mosaic(images: np.ndarray, rows: Sequence[Sequence[int]], per_row: int) -> Mosaic:
    """Paste images[rows[r][c]] at tile (r, c); grey images (C == 1) become grey RGB."""
    _, channels, height, width = images.shape
    pad = max(1, height // 8)
    canvas = np.full(
        (max(1, len(rows)) * (height + pad) + pad, per_row * (width + pad) + pad, 3),
        255,
        dtype=np.uint8,
    )
    for r, chosen in enumerate(rows):
        for c, index in enumerate(chosen[:per_row]):
            image = np.asarray(images[index])
            pixels = image[:3].transpose(1, 2, 0) if channels == 3 else image[0][..., None]
            top, left = pad + r * (height + pad), pad + c * (width + pad)
            canvas[top : top + height, left : left + width] = pixels
    return Mosaic(canvas, height, pad)
