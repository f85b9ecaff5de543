"""Runs grouped by method (or by a swept value) on one figure: per group the mean over its runs
as a line and min..max as a band, for `maxl show` on a comparison and `maxl sweep`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from maxl.report.figures.common import (
    FALLBACK_COLOURS,
    Records,
    epoch_axis,
    marker,
    no_aux_loss,
    pyplot,
    save_png,
)
from maxl.report.runs import series

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
        if key == "train_aux_loss" and no_aux_loss(values):
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
    plt = pyplot()
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
                    marker=marker(len(epochs)),
                    markersize=3,
                    label=f"{label} ({count} run{'s' if count != 1 else ''})",
                )
                ax.fill_between(epochs, low, high, color=colour, alpha=0.2, linewidth=0)
            if name == "gradient_cosine.png":
                ax.axhline(0.0, color="black", linewidth=0.8)
            ax.set_ylabel(ylabel)
            epoch_axis(ax)
            ax.legend(fontsize=8)
        fig.suptitle(f"{title}\n(line: mean over runs; band: min to max)", fontsize=11)
        path = out_dir / name
        save_png(fig, path)
        written.append(path)
    return written
