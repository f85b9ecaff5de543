"""One run's curves per epoch: losses and test accuracy, gradient agreement, label change."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maxl.report.figures.common import (
    Records,
    epoch_axis,
    marker,
    no_aux_loss,
    pyplot,
    save_png,
)
from maxl.report.runs import series


def curves_figure(records: Records, path: Path) -> None:
    """Left: training losses per epoch and the test loss at the evaluation epochs. Right: the
    primary test accuracy (%) at the evaluation epochs, the number a run is judged by."""
    plt = pyplot()
    fig, (losses, accuracy) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for key, label in (
        ("train_loss", "train, total"),
        ("train_primary_loss", "train, primary"),
        ("train_aux_loss", "train, auxiliary"),
    ):
        epochs, values = series(records, key)
        if values and not (key == "train_aux_loss" and no_aux_loss(values)):
            losses.plot(epochs, values, marker=marker(len(values)), markersize=3, label=label)
    epochs, values = series(records, "test_loss")
    if values:
        losses.plot(epochs, values, "kx", markersize=6, label="test (evaluation epochs)")
    losses.set_ylabel("loss")
    losses.set_title("losses")
    epoch_axis(losses)
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
    epoch_axis(accuracy)
    save_png(fig, path)


def gradient_cosine_figure(records: Records, path: Path) -> None:
    """Cosine between the primary and auxiliary loss gradients on the shared trunk per epoch,
    shaded green above zero (the tasks agree) and red below (they pull apart)."""
    plt = pyplot()
    epochs, values = series(records, "grad_cosine")
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.plot(epochs, values, marker=marker(len(values)), markersize=3, color="#1f77b4")
    x, y = np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)
    ax.fill_between(x, y, 0, where=y >= 0, color="#2ca02c", alpha=0.15, interpolate=True)
    ax.fill_between(x, y, 0, where=y < 0, color="#d62728", alpha=0.15, interpolate=True)
    ax.set_ylabel("cosine(∇ primary loss, ∇ auxiliary loss)")
    ax.set_title("gradient agreement on the shared trunk")
    epoch_axis(ax)
    save_png(fig, path)


def label_change_figure(records: Records, path: Path) -> None:
    """Share of the sampled images whose most likely auxiliary class changed since the last
    epoch and since the untrained generator, per epoch (%). Labels have settled when the first
    stays near zero."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for key, label, colour in (
        ("label_change", "changed since the last epoch", "#1f77b4"),
        ("label_change_from_start", "changed since the untrained generator", "#ff7f0e"),
    ):
        epochs, values = series(records, key)
        ax.plot(
            epochs,
            [100 * v for v in values],
            marker=marker(len(values)),
            markersize=3,
            color=colour,
            label=label,
        )
    ax.set_ylabel("images whose most likely class changed (%)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("how far the learned auxiliary labels move")
    epoch_axis(ax)
    save_png(fig, path)
