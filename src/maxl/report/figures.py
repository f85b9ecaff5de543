"""The figures of `maxl show`, drawn with matplotlib's file-only Agg backend (no display needed).

Each function draws one PNG from plain data (metric records, arrays), so `maxl sweep` and
notebooks can reuse them on runs they group themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from maxl.report.runs import series
from maxl.run_folder import write_atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from maxl.report.grid import AuxRow

Records = Sequence[Mapping[str, Any]]
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


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: Path) -> None:
    """Write the figure atomically as PNG, and free it whatever happens."""
    plt = _pyplot()
    try:
        write_atomic(path, lambda handle: fig.savefig(handle, dpi=120, format="png"))
    finally:
        plt.close(fig)


def _epoch_axis(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def _marker(points: int) -> str | None:
    return "o" if points <= MARKERS_UP_TO else None


def _no_aux_loss(values: Sequence[float]) -> bool:
    """A train_aux_loss that is zero throughout: the run had no auxiliary task (single)."""
    return all(v == 0.0 for v in values)


def curves_figure(records: Records, path: Path) -> None:
    """Left: training losses per epoch and the test loss at the evaluation epochs. Right: the
    primary test accuracy (%) at the evaluation epochs, the number a run is judged by."""
    plt = _pyplot()
    fig, (losses, accuracy) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for key, label in (
        ("train_loss", "train, total"),
        ("train_primary_loss", "train, primary"),
        ("train_aux_loss", "train, auxiliary"),
    ):
        epochs, values = series(records, key)
        if values and not (key == "train_aux_loss" and _no_aux_loss(values)):
            losses.plot(epochs, values, marker=_marker(len(values)), markersize=3, label=label)
    epochs, values = series(records, "test_loss")
    if values:
        losses.plot(epochs, values, "kx", markersize=6, label="test (evaluation epochs)")
    losses.set_ylabel("loss")
    losses.set_title("losses")
    _epoch_axis(losses)
    if losses.lines:
        losses.legend(fontsize=8)
    epochs, values = series(records, "test_accuracy")
    if values:
        percent = [100 * v for v in values]
        accuracy.plot(epochs, percent, marker="o", markersize=4, color="#d62728")
        accuracy.annotate(
            f"{percent[-1]:.2f}%",
            (epochs[-1], percent[-1]),
            textcoords="offset points",
            xytext=(-4, 6),
            ha="right",
            fontsize=9,
        )
    else:
        accuracy.text(0.5, 0.5, "no evaluation yet", ha="center", va="center")
    accuracy.set_ylabel("primary test accuracy (%)")
    accuracy.set_title("primary test accuracy")
    _epoch_axis(accuracy)
    _save(fig, path)


def gradient_cosine_figure(records: Records, path: Path) -> None:
    """Cosine between the primary and auxiliary loss gradients on the shared trunk per epoch,
    shaded green above zero (the tasks agree) and red below (they pull apart)."""
    plt = _pyplot()
    epochs, values = series(records, "grad_cosine")
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.plot(epochs, values, marker=_marker(len(values)), markersize=3, color="#1f77b4")
    x, y = np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)
    ax.fill_between(x, y, 0, where=y >= 0, color="#2ca02c", alpha=0.15, interpolate=True)
    ax.fill_between(x, y, 0, where=y < 0, color="#d62728", alpha=0.15, interpolate=True)
    ax.set_ylabel("cosine(∇ primary loss, ∇ auxiliary loss)")
    ax.set_title("gradient agreement on the shared trunk")
    _epoch_axis(ax)
    _save(fig, path)


def label_change_figure(records: Records, path: Path) -> None:
    """Share of the sampled images whose most likely auxiliary class changed since the last
    epoch and since the untrained generator, per epoch (%). Labels have settled when the first
    stays near zero."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for key, label, colour in (
        ("label_change", "changed since the last epoch", "#1f77b4"),
        ("label_change_from_start", "changed since the untrained generator", "#ff7f0e"),
    ):
        epochs, values = series(records, key)
        ax.plot(
            epochs,
            [100 * v for v in values],
            marker=_marker(len(values)),
            markersize=3,
            color=colour,
            label=label,
        )
    ax.set_ylabel("images whose most likely class changed (%)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("how far the learned auxiliary labels move")
    _epoch_axis(ax)
    _save(fig, path)


def aux_usage_figure(
    records: Records,
    path: Path,
    psi: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
) -> None:
    """Top: heat map epochs × auxiliary classes of each class's share of the images (blocks of
    primary classes separated). Bottom: label entropies against log K, and NMI with human labels."""
    plt = _pyplot()
    usage = [(r["epoch"], r["aux_usage"]) for r in records if isinstance(r.get("aux_usage"), list)]
    width = len(usage[-1][1]) if usage else None
    if psi is not None and width is not None and sum(psi) != width:
        psi = None  # the layout does not fit these usage vectors: draw no blocks
    num_aux = sum(psi) if psi else width
    panels = 2 if usage else 1
    fig, axes = plt.subplots(
        panels,
        1,
        figsize=(11, 7.5 if usage else 3.5),
        constrained_layout=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 2]} if usage else None,
    )
    if usage:
        _usage_heat_map(fig, axes[0][0], usage, psi, class_names)
    _entropy_panel(axes[-1][0], records, num_aux)
    _save(fig, path)


def _usage_heat_map(
    fig: Figure,
    ax: Axes,
    usage: list[tuple[int, list[float]]],
    psi: Sequence[int] | None,
    class_names: Sequence[str] | None,
) -> None:
    width = len(usage[-1][1])
    matrix = np.full((len(usage), width), np.nan)
    for i, (_, shares) in enumerate(usage):
        if len(shares) == width:
            matrix[i] = shares
    image = ax.imshow(matrix, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0)
    fig.colorbar(image, ax=ax, label="share of sampled training images", pad=0.01)
    step = max(1, math.ceil(len(usage) / 12))
    ax.set_yticks(
        range(0, len(usage), step), [str(usage[i][0]) for i in range(0, len(usage), step)]
    )
    ax.set_ylabel("epoch")
    if psi:
        edges = np.cumsum([0, *psi])
        for edge in edges[1:-1]:
            ax.axvline(edge - 0.5, color="white", linewidth=1.2)
        names = list(class_names) if class_names and len(class_names) == len(psi) else None
        every = max(1, math.ceil(len(psi) / 25))
        centres = [(edges[i] + edges[i + 1] - 1) / 2 for i in range(0, len(psi), every)]
        labels = [names[i] if names else str(i) for i in range(0, len(psi), every)]
        long = any(len(label) > 3 for label in labels)
        ax.set_xticks(centres, labels, rotation=45 if long else 0, ha="right" if long else "center")
        ax.set_xlabel("auxiliary classes, in blocks of ψ[i] per primary class (labelled)")
    else:
        ax.set_xlabel("auxiliary class")
    ax.set_title("which auxiliary class each training image gets (most likely class), per epoch")


def _entropy_panel(ax: Axes, records: Records, num_aux: int | None) -> None:
    handles = []
    for key, label, colour in (
        ("aux_entropy", "per-image entropy (mean)", "#1f77b4"),
        ("aux_marginal_entropy", "entropy of the mean label distribution", "#ff7f0e"),
    ):
        epochs, values = series(records, key)
        if values:
            handles += ax.plot(
                epochs, values, marker=_marker(len(values)), markersize=3, color=colour, label=label
            )
    if num_aux:
        handles.append(
            ax.axhline(
                math.log(num_aux), color="#ff7f0e", linestyle="--", label=f"log K (K={num_aux})"
            )
        )
    ax.set_ylabel("entropy (nats)")
    ax.set_ylim(bottom=0)
    _epoch_axis(ax)
    nmi = [
        (k, lbl)
        for k, lbl in (
            ("nmi_human", "NMI with human labels"),
            ("nmi_human_within", "NMI within primary classes"),
        )
        if series(records, k)[1]
    ]
    if nmi:
        twin = ax.twinx()
        for (key, label), style in zip(nmi, ("-", ":"), strict=False):
            epochs, values = series(records, key)
            handles += twin.plot(
                epochs,
                values,
                linestyle=style,
                marker=_marker(len(values)),
                markersize=3,
                color="#2ca02c",
                label=label,
            )
        twin.set_ylim(0, 1)
        twin.set_ylabel("NMI", color="#2ca02c")
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best")
    else:
        ax.text(0.5, 0.5, "no label statistics recorded", ha="center", va="center")
    ax.set_title("auxiliary label statistics")


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
    plt = _pyplot()
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
    _save(fig, path)


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


OVERLAYS: tuple[tuple[str, str, tuple[tuple[str, str, float], ...]], ...] = (
    ("accuracy.png", "test accuracy", (("test_accuracy", "primary test accuracy (%)", 100.0),)),
    (
        "losses.png",
        "training losses",
        (
            ("train_primary_loss", "train primary loss", 1.0),
            ("train_aux_loss", "train auxiliary loss", 1.0),
        ),
    ),
    (
        "gradient_cosine.png",
        "gradient agreement on the shared trunk",
        (("grad_cosine", "cosine(∇ primary, ∇ auxiliary)", 1.0),),
    ),
    (
        "labels.png",
        "auxiliary labels",
        (
            ("aux_entropy", "mean entropy of one image's label (nats)", 1.0),
            ("aux_marginal_entropy", "entropy of the mean label distribution (nats)", 1.0),
            ("nmi_human_within", "NMI with human labels within primary classes", 1.0),
        ),
    ),
)


def band(
    runs: Sequence[Records], key: str, scale: float = 1.0
) -> tuple[list[int], list[float], list[float], list[float], int] | None:
    """Per epoch over the runs that recorded `key` there: (epochs, mean, min, max, runs with
    any value); None when no run has the key. Runs of different lengths are averaged where
    they overlap and use the runs they have after that."""
    by_epoch: dict[int, list[float]] = {}
    counted = 0
    for records in runs:
        epochs, values = series(records, key)
        if key == "train_aux_loss" and _no_aux_loss(values):
            continue
        counted += bool(values)
        for epoch, value in zip(epochs, values, strict=True):
            by_epoch.setdefault(epoch, []).append(scale * value)
    if not by_epoch:
        return None
    epochs = sorted(by_epoch)
    return (
        epochs,
        [float(np.mean(by_epoch[e])) for e in epochs],
        [min(by_epoch[e]) for e in epochs],
        [max(by_epoch[e]) for e in epochs],
        counted,
    )


def overlay_figures(
    groups: Mapping[str, Sequence[Records]],
    out_dir: Path,
    colours: Mapping[str, str] | None = None,
) -> list[Path]:
    """accuracy.png, losses.png, gradient_cosine.png, labels.png in `out_dir`: per group (label
    -> runs, each a list of metric records) the mean over its runs as a line and min..max as a
    band. A figure (or panel, or group) without data is left out; returns the files written."""
    plt = _pyplot()
    colour_of = {
        label: (colours or {}).get(label, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])
        for i, label in enumerate(groups)
    }
    written = []
    for name, title, panels in OVERLAYS:
        drawn = [
            (ylabel, bands)
            for key, ylabel, scale in panels
            if (bands := {g: b for g, runs in groups.items() if (b := band(runs, key, scale))})
        ]
        if not drawn:
            continue
        fig, axes = plt.subplots(
            1, len(drawn), figsize=(6 * len(drawn), 4), constrained_layout=True, squeeze=False
        )
        for ax, (ylabel, bands) in zip(axes[0], drawn, strict=True):
            for label, (epochs, mean, low, high, count) in bands.items():
                colour = colour_of[label]
                ax.plot(
                    epochs,
                    mean,
                    color=colour,
                    marker=_marker(len(epochs)),
                    markersize=3,
                    label=f"{label} ({count} run{'s' if count != 1 else ''})",
                )
                ax.fill_between(epochs, low, high, color=colour, alpha=0.2, linewidth=0)
            if name == "gradient_cosine.png":
                ax.axhline(0.0, color="black", linewidth=0.8)
            ax.set_ylabel(ylabel)
            _epoch_axis(ax)
            ax.legend(fontsize=8)
        fig.suptitle(f"{title}\n(line: mean over runs; band: min to max)", fontsize=11)
        path = out_dir / name
        _save(fig, path)
        written.append(path)
    return written
