"""What every figure shares: matplotlib's file-only Agg backend (no display needed), atomic PNG
writing, the epoch axis, point markers and the methods' colours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maxl.run_folder import write_atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Records = Sequence[Mapping[str, Any]]
METHOD_COLOURS = {
    "single": "#7f7f7f",
    "random": "#bcbd22",
    "kmeans": "#17becf",
    "human": "#2ca02c",
    "maxl": "#d62728",
}
FALLBACK_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
MARKERS_UP_TO = 30  # draw point markers on curves with at most this many points


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, imported on first use (matplotlib is slow to load)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Figure, path: Path, dpi: int = 120) -> None:
    """Write the figure atomically as PNG, and free it whatever happens."""
    plt = pyplot()
    try:
        write_atomic(path, lambda handle: fig.savefig(handle, dpi=dpi, format="png"))
    finally:
        plt.close(fig)


def epoch_axis(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def marker(points: int) -> str | None:
    return "o" if points <= MARKERS_UP_TO else None


def no_aux_loss(values: Sequence[float]) -> bool:
    """A train_aux_loss that is zero throughout: the run had no auxiliary task (single)."""
    return all(v == 0.0 for v in values)
