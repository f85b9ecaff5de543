"""`maxl bench --phases`: where the time of one iteration of a `maxl bench` row goes, read from
the `maxl.phases` regions of the real meta-gradient code while the row's real iteration runs
(the direction, the label sensitivity, the generator backward, and with --meta-depth the
features below the top blocks), the rest of the iteration beside them, each as a multiple of
single's whole iteration, medians over interleaved rounds after a warm-up."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from maxl.analysis.phase_times import PhaseTimes, median_phases
from maxl.assembly import assemble_run, check_config, resolve_device
from maxl.bench.timing import iteration
from maxl.bench.variants import VARIANTS, BenchConfig, describe, random_dataset, train_config
from maxl.errors import MaxlError
from maxl.phases import listening

DEFAULT_ROWS = ("exact", "finite-difference")
REST = "rest of the iteration"  # generator forward, multi-task step, optimiser steps
WHOLE = "whole iteration"


def phase_rows(text: str) -> list[str]:
    """The rows of `--phases ROWS` (comma-separated names of maxl bench rows), checked."""
    rows = [name for name in text.split(",") if name]
    unknown = [name for name in rows if name not in VARIANTS]
    if unknown or not rows:
        raise MaxlError(f"--phases: unknown row(s) {unknown}; choose from {', '.join(VARIANTS)}")
    return rows


def profile_phases(bench: BenchConfig, rows: Sequence[str]) -> dict[str, dict[str, float]]:
    """Row -> median seconds per iteration of each region, of the rest and of the whole
    iteration; 'single' always comes first, as the reference."""
    device = resolve_device(bench.device)
    dataset = random_dataset(bench)
    steps: dict[str, Callable[[], None]] = {}
    for row in dict.fromkeys(["single", *rows]):
        config = train_config(bench, row)
        check_config(config)
        steps[row] = iteration(assemble_run(config, dataset, device))
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    rounds: dict[str, list[dict[str, float]]] = {row: [] for row in steps}
    for round_ in range(bench.warmup + bench.iterations):
        for row, step in steps.items():
            times = PhaseTimes(synchronize=sync)
            with listening(times):
                start = times.now()
                for _ in range(bench.meta_every):  # a round spans one generator step
                    step()
                whole = times.now() - start
            seconds = {name: sum(values) for name, values in times.seconds.items()}
            seconds |= {REST: whole - times.total(), WHOLE: whole}
            if round_ >= bench.warmup:
                rounds[row].append({k: v / bench.meta_every for k, v in seconds.items()})
    return {row: median_phases(values) for row, values in rounds.items()}


def format_phases(bench: BenchConfig, profile: dict[str, dict[str, float]]) -> str:
    """One Markdown table per row: each region's seconds and its multiple of single."""
    base = profile["single"][WHOLE]
    lines = [
        f"{bench.backbone}, batch {bench.batch_size}, {bench.channels}×{bench.image_size}×"
        f"{bench.image_size}, {resolve_device(bench.device)}, {bench.precision}: median of "
        f"{bench.iterations} interleaved rounds after {bench.warmup} warm-up; single's "
        f"iteration {base:.4f} s"
    ]
    for row, seconds in profile.items():
        if row == "single":
            continue
        lines += ["", f"{describe(bench, row)}:", "", "| phase | s / iteration | × single |"]
        lines.append("|---|---:|---:|")
        lines += [f"| {name} | {s:.4f} | {s / base:.2f} |" for name, s in seconds.items()]
    return "\n".join(lines)
