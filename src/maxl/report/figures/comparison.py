"""`maxl compare`'s figure: accuracy per method over the seeds, and the paired gain over single."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from maxl.report.figures.common import METHOD_COLOURS, pyplot, save_png
from maxl.summaries import MethodSummary


def comparison_figure(summaries: Sequence[MethodSummary], path: Path, title: str) -> None:
    """Left: accuracy per method (bar = mean, error bar = std, dots = seeds). Right: the gain
    over single paired by seed, on an axis through zero, where the differences are visible."""
    plt = pyplot()
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
    save_png(fig, path)
