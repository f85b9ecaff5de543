"""Figures, drawn with matplotlib's file-only Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maxl.run_folder import write_atomic
from maxl.summaries import MethodSummary, SweepPoint

METHOD_COLOURS = {
    "single": "#7f7f7f",
    "random": "#bcbd22",
    "kmeans": "#17becf",
    "human": "#2ca02c",
    "maxl": "#d62728",
}


def comparison_figure(summaries: Sequence[MethodSummary], path: Path, title: str) -> None:
    """Left: accuracy per method (bar = mean, error bar = std, dots = seeds). Right: the gain
    over single paired by seed, on an axis through zero, where the differences are visible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.method for s in summaries]
    colours = [METHOD_COLOURS.get(name, "#1f77b4") for name in names]
    means = [100 * s.mean for s in summaries]
    stds = [100 * s.std for s in summaries]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    positions = range(len(summaries))
    left.bar(positions, means, yerr=stds, color=colours, capsize=4, alpha=0.85)
    for i, s in enumerate(summaries):
        values = [100 * a for a in s.accuracies.values()]
        left.scatter([i] * len(values), values, color="black", s=12, zorder=3)
    low = min(100 * min(s.accuracies.values()) for s in summaries)
    high = max(100 * max(s.accuracies.values()) for s in summaries)
    margin = max(0.5, 0.3 * (high - low))
    left.set_ylim(max(0.0, low - margin), min(100.0, high + margin))
    left.set_xticks(list(positions), names)
    left.set_ylabel("primary test accuracy (%)  [axis not from 0]")
    left.set_title(f"{title}: accuracy over {max(len(s.accuracies) for s in summaries)} seed(s)")
    gained = [s for s in summaries if s.method != "single" and s.gains]
    if gained:
        gain_means = [100 * (s.mean_gain or 0.0) for s in gained]
        gain_stds = [100 * (s.std_gain or 0.0) for s in gained]
        spots = range(len(gained))
        right.bar(
            spots,
            gain_means,
            yerr=gain_stds,
            capsize=4,
            alpha=0.85,
            color=[METHOD_COLOURS.get(s.method, "#1f77b4") for s in gained],
        )
        for i, s in enumerate(gained):
            values = [100 * g for g in s.gains.values()]
            right.scatter([i] * len(values), values, color="black", s=12, zorder=3)
        right.axhline(0.0, color="black", linewidth=0.8)
        right.set_xticks(list(spots), [s.method for s in gained])
        right.set_ylabel("gain over single (points, paired by seed)")
        right.set_title("gain over single-task learning")
    else:
        right.axis("off")
        right.text(0.5, 0.5, "no single-task runs to compare with", ha="center", va="center")
    try:
        write_atomic(path, lambda handle: fig.savefig(handle, dpi=120, format="png"))
    finally:
        plt.close(fig)


def sweep_figure(points: Sequence[SweepPoint], path: Path, field: str, title: str) -> None:
    """Left: accuracy per value of the swept setting, one line per method (mean, std bars, seed
    dots). Right: the last epoch's gradient cosine and label entropies per value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    spots = list(range(len(points)))
    methods = list(dict.fromkeys(s.method for p in points for s in p.summaries))
    for method in methods:
        colour = METHOD_COLOURS.get(method, "#1f77b4")
        found = [(i, s) for i, p in enumerate(points) for s in p.summaries if s.method == method]
        xs = [i for i, _ in found]
        left.errorbar(
            xs,
            [100 * s.mean for _, s in found],
            yerr=[100 * s.std for _, s in found],
            color=colour,
            marker="o",
            capsize=4,
            label=method,
        )
        for i, s in found:
            dots = [100 * a for a in s.accuracies.values()]
            left.scatter([i] * len(dots), dots, color=colour, s=10, alpha=0.5)
    left.set_xticks(spots, [p.label for p in points])
    left.set_xlabel(field)
    left.set_ylabel("primary test accuracy (%)  [axis not from 0]")
    left.set_title(f"{title}: accuracy by {field}")
    left.legend()
    styles = {
        "grad_cosine": ("gradient cosine", "-"),
        "aux_entropy": ("label entropy (nats)", "--"),
        "aux_marginal_entropy": ("marginal entropy (nats)", ":"),
    }
    drawn = False
    for method in methods:
        colour = METHOD_COLOURS.get(method, "#1f77b4")
        for key, (name, style) in styles.items():
            xs = [i for i, p in enumerate(points) if key in p.last_metrics.get(method, {})]
            if xs:
                ys = [points[i].last_metrics[method][key] for i in xs]
                right.plot(xs, ys, style, color=colour, marker="o", label=f"{method}: {name}")
                drawn = True
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_xticks(spots, [p.label for p in points])
    right.set_xlabel(field)
    right.set_title("last epoch, mean over seeds")
    if drawn:
        right.legend(fontsize=8)
    try:
        write_atomic(path, lambda handle: fig.savefig(handle, dpi=120, format="png"))
    finally:
        plt.close(fig)


def map_figure(rows: Sequence[Any], path: Path, title: str) -> None:
    """Left: the tuned single's accuracy by training-set size. Right: each method's paired gain
    over single (mean ± std over seeds) by size, on an axis through zero."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    methods = [s.method for s in rows[0].summaries if s.method != "single"] if rows else []
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
    try:
        write_atomic(path, lambda handle: fig.savefig(handle, dpi=110, format="png"))
    finally:
        plt.close(fig)
