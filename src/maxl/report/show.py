"""`maxl show`: figures and a report.md for one run folder or a whole comparison folder."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maxl.assembly import METHOD_NAMES
from maxl.data.dataset import ImageDataset
from maxl.errors import MaxlError
from maxl.report.run_dataset import (
    displayable,
    grid_dataset,
    primary_class_names,
    report_dataset,
)
from maxl.report.runs import ANALYSIS_KEYS, last_value, number
from maxl.run_folder import (
    AUX_LABELS,
    METRICS,
    RESULTS,
    SavedRun,
    aux_labels_path,
    is_run_folder,
    metrics_path,
    read_aux_labels,
    read_run,
    run_folders,
    write_atomic,
)
from maxl.types import Log

METRIC_MEANING = {
    "grad_cosine": "cosine of the primary and auxiliary loss gradients on the shared trunk",
    "aux_entropy": "mean entropy of one image's generated label distribution (nats)",
    "aux_marginal_entropy": "entropy of the mean label distribution (nats; max log K)",
    "nmi_human": "NMI between generated and human labels (0 unrelated, 1 the same)",
    "nmi_human_within": "NMI within primary classes, averaged",
}
GRID_CLASSES = 4
GRID_IMAGES = 8


def show(path: Path, log: Log = print, classes: Sequence[int] | None = None) -> Path:
    """Write figures/*.png and report.md into a run folder (metrics.jsonl) or a comparison
    folder (run sub-folders); returns the path of report.md. `classes`: the primary classes
    that get image grids (default: up to four with the largest ψ)."""
    path = Path(path)
    if is_run_folder(path):
        return show_run(path, log, classes)
    if run_folders(path):
        return show_compare(path, log)
    if not path.exists():
        problem = "does not exist"
    elif not path.is_dir():
        problem = "is a file, not a folder"
    else:
        problem = f"holds no {METRICS} and no run folders"
    raise MaxlError(f"{path} {problem}; give a folder written by maxl train or maxl compare")


def figures_dir(folder: Path) -> Path:
    """folder/figures, created, or a MaxlError saying why it cannot be."""
    figures = folder / "figures"
    try:
        figures.mkdir(exist_ok=True)
    except OSError as error:
        raise MaxlError(
            f"cannot write figures into {figures} ({error.strerror or error}); "
            "make the folder writable, or copy it somewhere writable and show the copy"
        ) from None
    return figures


def write_report(path: Path, lines: Sequence[str]) -> None:
    text = "\n".join(lines).rstrip() + "\n"
    write_atomic(path, lambda handle: handle.write(text.encode()))


def fmt(value: float | None, digits: int = 3) -> str:
    """A number rounded for a table ("—" when missing), never "-0.000"."""
    return "—" if value is None else f"{round(value, digits) + 0.0:.{digits}f}"


def show_run(folder: Path, log: Log = print, classes: Sequence[int] | None = None) -> Path:
    """Curves, gradient cosine, label usage and image grids of one run, and its report.md."""
    from maxl.report import figures as fig

    run = read_run(folder)
    if not run.metrics:
        raise MaxlError(
            f"{metrics_path(folder)} holds no finished epoch yet; "
            "show it once the first epoch has finished"
        )
    out = figures_dir(folder)
    records = run.metrics
    results = run.results or {}
    psi = run.psi
    lines = [f"# {run.method} on {results.get('dataset', '?')}, seed {results.get('seed', '?')}"]
    lines += ["", *run_facts(run), ""]
    if not run.finished:
        lines += [
            f"*Run in progress (no {RESULTS} yet): shown from the {len(records)} epoch(s) "
            f"in {METRICS}; run `maxl show` again later for the rest.*",
            "",
        ]
    lines += analysis_table(records, psi)

    lines += ["## Training curves", ""]
    fig.curves_figure(records, out / "curves.png")
    lines += [
        "![losses and test accuracy](figures/curves.png)",
        "",
        "Left: training losses per epoch (the total is primary + weighted auxiliary) and the "
        "test loss at the evaluation epochs (crosses); a test loss that rises while the training "
        "losses fall is overfitting. Right: primary test accuracy at the evaluation epochs.",
        "",
    ]

    lines += ["## Gradient agreement", ""]
    if any(number(r.get("grad_cosine")) is not None for r in records):
        fig.gradient_cosine_figure(records, out / "gradient_cosine.png")
        lines += [
            "![gradient cosine](figures/gradient_cosine.png)",
            "",
            "Cosine between the gradients of the primary loss and of the auxiliary loss on the "
            "shared trunk. Positive (green): the auxiliary gradient points the same way as the "
            "primary one, so a step on the auxiliary loss also lowers the primary loss (to first "
            "order); near 0: unrelated; negative (red): it pulls against the primary task. This "
            "is the cosine of the whole flattened gradients, not the per-row definition of the "
            "original MAXL code.",
            "",
        ]
    else:
        lines += [
            f"*No gradient cosine recorded in {METRICS} (no auxiliary task, or a "
            "run from before the analysis was added): figure skipped.*",
            "",
        ]

    lines += ["## Auxiliary labels", ""]
    label_keys = ("aux_usage", "aux_entropy", "aux_marginal_entropy", "nmi_human")
    dataset = report_dataset(run)
    names = primary_class_names(run, dataset) if isinstance(dataset, ImageDataset) else None
    if any(r.get(key) is not None for r in records for key in label_keys):
        fig.aux_usage_figure(records, out / "aux_usage.png", psi=psi, class_names=names)
        lines += [
            "![auxiliary label usage](figures/aux_usage.png)",
            "",
            "Top: per epoch (rows) the share of sampled training images whose most likely "
            "auxiliary class is each column; white lines separate the primary classes' blocks. "
            "A block with one bright column has collapsed to one class; evenly lit blocks use "
            "all their classes. Bottom: the mean per-image entropy (low: confident labels) and "
            "the entropy of the mean distribution (near the dashed log K: all classes used "
            "evenly); NMI with the human labels, where the dataset has them, on the right axis.",
            "",
        ]
    else:
        lines += ["*No auxiliary label statistics recorded: figure skipped.*", ""]
    if any(number(r.get("label_change")) is not None for r in records):
        fig.label_change_figure(records, out / "label_change.png")
        lines += [
            "![label change](figures/label_change.png)",
            "",
            "Share of the sampled training images whose most likely auxiliary class changed "
            "since the epoch before (blue) and since the untrained generator (orange). The "
            "labels have settled when the blue line stays near zero; an orange line near zero "
            "means the generator's training left its initial labels where they were.",
            "",
        ]

    lines += grid_section(folder, run, out, dataset, log, classes)
    report = folder / "report.md"
    write_report(report, lines)
    log(f"report: {report}; figures in {out}")
    return report


def run_facts(run: SavedRun) -> list[str]:
    results = run.results or {}
    epochs_done = run.metrics[-1]["epoch"]
    planned = results.get("epochs")
    accuracy = run.final_accuracy
    return [
        f"- method: {run.method}",
        f"- dataset: {results.get('dataset', '?')}"
        + (f" (primary level {results['primary_level']})" if results.get("primary_level") else ""),
        f"- seed: {results.get('seed', '?')}",
        f"- ψ (auxiliary classes per primary class): {run.psi if run.psi else '?'}"
        + (f", K = {sum(run.psi)}" if run.psi else ""),
        f"- epochs: {epochs_done}" + (f" of {planned}" if planned else ""),
        "- final primary test accuracy: "
        + ("not evaluated yet" if accuracy is None else f"{100 * accuracy:.2f}%")
        + ("" if run.finished else " (latest evaluation)"),
    ]


def analysis_table(records: list[dict[str, Any]], psi: list[int] | None) -> list[str]:
    """The last epoch's analysis metrics, with the share of auxiliary classes in use."""
    measured = [
        r for r in records if any(r.get(k) is not None for k in (*ANALYSIS_KEYS, "aux_usage"))
    ]
    if not measured:
        return [f"*No analysis metrics in {METRICS}.*", ""]
    last = measured[-1]
    lines = [
        f"## Analysis at epoch {last['epoch']}",
        "",
        "| metric | value | what it measures |",
        "|---|---:|---|",
    ]
    for key in ANALYSIS_KEYS:
        value = number(last.get(key))
        if value is not None:
            lines.append(f"| {key} | {fmt(value)} | {METRIC_MEANING[key]} |")
    usage = last.get("aux_usage")
    if isinstance(usage, list) and usage:
        used = sum(1 for share in usage if (number(share) or 0.0) > 0)
        lines.append(
            f"| classes in use | {used} of {len(usage)} | auxiliary classes that are the most "
            "likely one for at least one sampled image |"
        )
    num_aux = len(usage) if isinstance(usage, list) and usage else sum(psi) if psi else 0
    if num_aux:
        lines.append(
            f"| log K | {math.log(num_aux):.3f} | the largest marginal entropy (K={num_aux}) |"
        )
    return [*lines, ""]


def grid_section(
    folder: Path,
    run: SavedRun,
    out: Path,
    dataset: ImageDataset | MaxlError | None,
    log: Log,
    classes: Sequence[int] | None = None,
) -> list[str]:
    """Image grids of `classes` (default: those with the largest ψ), or a note saying why
    there are none."""
    from maxl.report.figures import aux_class_figure
    from maxl.report.grid import group_rows, pick_classes

    lines = ["## What the auxiliary classes look like", ""]
    labels_path = aux_labels_path(folder)
    if not labels_path.is_file():
        why = (
            "the run is still in progress"
            if not run.finished
            else "the method has no auxiliary labels, or the run predates that file"
        )
        return [*lines, f"*No {AUX_LABELS} ({why}): image grids skipped.*", ""]
    try:
        labels = read_aux_labels(folder)
        dataset = grid_dataset(dataset, labels)
    except MaxlError as error:
        log(f"image grids skipped: {error}")
        return [*lines, f"*Image grids skipped: {error}*", ""]
    names = primary_class_names(run, dataset) or []
    assert isinstance(dataset.x_train, torch.Tensor), "load_dataset keeps images in memory"
    images = displayable(dataset.x_train.numpy())
    lines += [
        "One grid per primary class (by default those with the most auxiliary classes; choose "
        "with `--classes`): one row per auxiliary class of its block, with up to "
        f"{GRID_IMAGES} training images whose most likely auxiliary class it is, most "
        "confident first; the row label gives the auxiliary class index and how many of the "
        "class's training images (share) it got. Rows of similar-looking images mean the "
        "labels group consistent sub-classes; the median probability under each grid says "
        "how sure the labels are (1/ψ is a uniform label, which the network learns nothing "
        "from inside the class).",
        "",
    ]
    if classes is None:
        classes = pick_classes(labels.psi, GRID_CLASSES)
    elif unknown := [c for c in classes if not 0 <= c < len(labels.psi)]:
        raise MaxlError(
            f"--classes {','.join(map(str, unknown))}: the run has primary classes 0 to "
            f"{len(labels.psi) - 1}; choose among those"
        )
    for cls in classes:
        name = names[cls] if cls < len(names) else str(cls)
        named = f"class {cls}" if name == str(cls) else f"class {cls} ({name})"
        groups = group_rows(labels, cls, GRID_IMAGES)
        path = out / f"aux_classes_{cls}.png"
        title = f"primary {named}: {labels.psi[cls]} auxiliary classes"
        aux_class_figure(images, groups, path, title, GRID_IMAGES)
        mine = labels.primary == cls
        median = float(np.median(labels.confidence[mine])) if mine.any() else float("nan")
        lines += [
            f"### Primary {named}",
            "",
            f"![{named}](figures/{path.name})",
            "",
            f"Median probability of an image's most likely auxiliary class: {median:.3f} "
            f"(uniform: 1/{labels.psi[cls]} = {1 / labels.psi[cls]:.3f}).",
            "",
        ]
    return lines


def method_order(method: str) -> tuple[int, str]:
    return (METHOD_NAMES.index(method) if method in METHOD_NAMES else len(METHOD_NAMES), method)


def show_compare(folder: Path, log: Log = print) -> Path:
    """Overlays of every method's runs (mean line, min..max band) and a report.md table."""
    from maxl.report.figures import METHOD_COLOURS, overlay_figures

    runs = [read_run(sub) for sub in run_folders(folder)]
    empty = [r.folder.name for r in runs if not r.metrics]
    runs = [r for r in runs if r.metrics]
    by_method: dict[str, list[SavedRun]] = {}
    for run in sorted(runs, key=lambda r: method_order(r.row)):
        by_method.setdefault(run.row, []).append(run)
    out = figures_dir(folder)
    written = overlay_figures(
        {m: [r.metrics for r in group] for m, group in by_method.items()}, out, METHOD_COLOURS
    )
    lines = [f"# Comparison in {folder.name}", ""]
    if (folder / "summary.md").is_file():
        lines += ["The accuracy summary of `maxl compare` is in [summary.md](summary.md).", ""]
    in_progress = [r.folder.name for r in runs if not r.finished]
    if in_progress:
        lines += [
            f"*Still in progress (no {RESULTS}), shown from {METRICS}: {', '.join(in_progress)}.*",
            "",
        ]
    if empty:
        lines += [f"*No finished epoch yet, left out: {', '.join(empty)}.*", ""]
    lines += compare_table(by_method)
    captions = {
        "accuracy.png": "Primary test accuracy at the evaluation epochs: line = mean over "
        "seeds, band = min to max over seeds.",
        "losses.png": "Training primary loss (left) and auxiliary loss (right); methods "
        "without an auxiliary task have no auxiliary curve.",
        "gradient_cosine.png": "Cosine between the primary and auxiliary loss gradients on the "
        "shared trunk (whole flattened gradients); above 0 the auxiliary task pulls the trunk "
        "the same way as the primary one.",
        "labels.png": "Mean entropy of one image's auxiliary label (low: confident labels; "
        "log ψ: uniform inside its block), entropy of the mean label distribution (high: "
        "classes used evenly) and NMI with the human labels inside the primary classes (how "
        "close the sub-classes are to the human ones).",
    }
    lines += ["## Figures", ""]
    for path in written:
        lines += [f"![{path.stem}](figures/{path.name})", "", captions.get(path.name, ""), ""]
    example = next((r for r in runs if r.method == "maxl"), None) or next(
        (r for r in runs if aux_labels_path(r.folder).is_file()), runs[0]
    )
    lines += [
        "For one run's own figures and its image grids of the auxiliary classes, run "
        f"`maxl show {folder / example.folder.name}`.",
    ]
    report = folder / "report.md"
    write_report(report, lines)
    log(f"report: {report}; figures in {out}")
    return report


def compare_table(by_method: dict[str, list[SavedRun]]) -> list[str]:
    """Per method: final test accuracy mean ± sample std over seeds, and the last-epoch
    analysis metrics averaged over seeds."""
    keys = [
        k
        for k in ANALYSIS_KEYS
        if any(last_value(r.metrics, k) is not None for g in by_method.values() for r in g)
    ]
    lines = [
        "| " + " | ".join(["method", "runs", "test accuracy (%)", *keys]) + " |",
        "|---|---:|---:|" + "---:|" * len(keys),
    ]
    for method, group in by_method.items():
        accuracies = [a for r in group if (a := r.final_accuracy) is not None]
        if accuracies:
            std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
            accuracy = f"{100 * statistics.fmean(accuracies):.2f} ± {100 * std:.2f}"
        else:
            accuracy = "—"
        cells = []
        for key in keys:
            values = [v for r in group if (v := number(last_value(r.metrics, key))) is not None]
            cells.append(fmt(statistics.fmean(values)) if values else "—")
        lines.append("| " + " | ".join([method, str(len(group)), accuracy, *cells]) + " |")
    lines += [
        "",
        "Test accuracy: mean ± sample standard deviation over seeds after the last epoch; the "
        "other columns: each run's last recorded value, averaged over seeds (— where none).",
        "",
    ]
    return lines
