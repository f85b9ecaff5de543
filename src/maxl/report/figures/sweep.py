"""`maxl sweep`'s figure: accuracy and last-epoch analysis by the value of the swept setting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from maxl.report.figures.common import METHOD_COLOURS, pyplot, save_png
from maxl.summaries import SweepPoint


def sweep_figure(points: Sequence[SweepPoint], path: Path, field: str, title: str) -> None:
    """Left: accuracy per value of the swept setting, one line per method (mean, std bars, seed
    dots). Right: the last epoch's gradient cosine and label entropies per value."""
    plt = pyplot()
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
    save_png(fig, path)
