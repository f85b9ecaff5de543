"""One run's auxiliary labels over the epochs: which class each image gets (a heat map per
auxiliary class), the label entropies and the NMI with human labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from maxl.report.figures.common import Records, epoch_axis, marker, pyplot, save_png
from maxl.report.runs import series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def aux_usage_figure(
    records: Records,
    path: Path,
    psi: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
) -> None:
    """Top: heat map epochs × auxiliary classes of each class's share of the images (blocks of
    primary classes separated). Bottom: label entropies against log K, and NMI with human labels."""
    plt = pyplot()
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
    save_png(fig, path)


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
                epochs, values, marker=marker(len(values)), markersize=3, color=colour, label=label
            )
    if num_aux:
        handles.append(
            ax.axhline(
                math.log(num_aux), color="#ff7f0e", linestyle="--", label=f"log K (K={num_aux})"
            )
        )
    ax.set_ylabel("entropy (nats)")
    ax.set_ylim(bottom=0)
    epoch_axis(ax)
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
                marker=marker(len(values)),
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
