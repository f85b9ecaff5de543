"""Every figure maxl draws, each function one PNG from plain data (metric records, summaries,
arrays), so that `maxl show`, `compare`, `sweep`, `map` and notebooks share them."""

from maxl.report.figures.common import METHOD_COLOURS
from maxl.report.figures.comparison import comparison_figure
from maxl.report.figures.curves import curves_figure, gradient_cosine_figure, label_change_figure
from maxl.report.figures.gain_map import map_figure
from maxl.report.figures.label_usage import aux_usage_figure
from maxl.report.figures.mosaic import aux_class_figure, tile_mosaic
from maxl.report.figures.overlays import band, overlay_figures
from maxl.report.figures.sweep import sweep_figure

__all__ = [
    "METHOD_COLOURS",
    "aux_class_figure",
    "aux_usage_figure",
    "band",
    "comparison_figure",
    "curves_figure",
    "gradient_cosine_figure",
    "label_change_figure",
    "map_figure",
    "overlay_figures",
    "sweep_figure",
    "tile_mosaic",
]
