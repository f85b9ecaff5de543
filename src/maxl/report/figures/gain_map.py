"""`maxl map`'s figure: the tuned single's accuracy and each method's gain by training-set size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maxl.report.figures.common import METHOD_COLOURS, pyplot, save_png


def map_figure(rows: Sequence[Any], path: Path, title: str, methods: Sequence[str]) -> None:
    """Left: the tuned single's accuracy by training-set size. Right: each of `methods`' paired
    gain over single (mean ± std over seeds) by size, on an axis through zero."""
    plt = pyplot()
    sizes = [row.size for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    single = [row.summary("single") for row in rows]
    if all(s is not None for s in single):
        left.errorbar(
            sizes,
            [100 * s.mean for s in single],
            yerr=[100 * s.std for s in single],
            marker="o",
            capsize=3,
            color=METHOD_COLOURS["single"],
        )
    left.set_xlabel("training images")
    left.set_ylabel("tuned single: primary test accuracy (%)")
    left.set_title(f"{title}: single, tuned at every size")
    right.axhline(0.0, color="black", linewidth=0.8)
    for offset, method in enumerate(methods):
        points = [(row.size, row.summary(method)) for row in rows]
        points = [(size, s) for size, s in points if s is not None and s.gains]
        if not points:
            continue
        shift = 1 + 0.03 * (offset - (len(methods) - 1) / 2)  # keep error bars apart
        right.errorbar(
            [size * shift for size, _ in points],
            [100 * (s.mean_gain or 0.0) for _, s in points],
            yerr=[100 * (s.std_gain or 0.0) for _, s in points],
            marker="o",
            capsize=3,
            label=method,
            color=METHOD_COLOURS.get(method, "#1f77b4"),
        )
    for ax in (left, right):  # the sizes themselves as ticks, with room around them
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(size) for size in sizes])
        ax.minorticks_off()
        ax.set_xlim(min(sizes) / 1.3, max(sizes) * 1.3)
    right.set_xlabel("training images")
    right.set_ylabel("gain over tuned single (points, paired by seed)")
    right.set_title("auxiliary labels: gain over single")
    right.legend(fontsize=8)
    save_png(fig, path, dpi=110)
