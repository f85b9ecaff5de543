"""Seconds per training iteration of every row. Timing is interleaved (one iteration of each
variant per round, after a warm-up) so that every variant sees the same machine state, and
reported as medians over rounds; with --meta-every K a round is K iterations (one generator step)
and counts their mean."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from maxl.assembly import assemble_run, check_config, resolve_device
from maxl.bench.variants import VARIANTS, BenchConfig, random_dataset, train_config
from maxl.engine import AssembledRun
from maxl.step import precision_context, prepare_batch, train_step


def iteration(run: AssembledRun) -> Callable[[], None]:
    """One training iteration of `run` on the first batch of its training set (with the
    `epochs` schedule also the generator step of the separate pass, at the new θ)."""
    rows = torch.arange(run.config.batch_size, device=run.x_train.device)
    precision = precision_context(run.x_train.device, run.config.precision)

    def step() -> None:
        x = prepare_batch(
            run.x_train[rows], run.mean, run.std, pad=run.crop_pad, flip=run.flip, rng=run.rng
        )
        train_step(
            run.net,
            run.optimizer,
            run.method,
            x,
            run.y_train[rows],
            rows,
            aux_weight=run.config.aux_weight,
            focal_gamma=run.config.focal_gamma,
            precision=precision,
        )
        if run.method.separate_pass:
            with precision:
                run.method.meta_step(
                    run.net, x, run.y_train[rows], run.optimizer.param_groups[0]["lr"]
                )

    return step


def input_pipeline(run: AssembledRun) -> Callable[[], None]:
    """The input pipeline alone: uint8 rows -> normalised, augmented float batch."""
    rows = torch.arange(run.config.batch_size, device=run.x_train.device)

    def prepare() -> None:
        prepare_batch(
            run.x_train[rows], run.mean, run.std, pad=run.crop_pad, flip=run.flip, rng=run.rng
        )

    return prepare


def timed(fn: Callable[[], None], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def time_variants(bench: BenchConfig) -> dict[str, float]:
    """Median seconds per iteration of every variant (and 'input'), interleaved round by round."""
    device = resolve_device(bench.device)
    dataset = random_dataset(bench)
    steps: dict[str, Callable[[], None]] = {}
    for variant in VARIANTS:
        config = train_config(bench, variant)
        check_config(config)
        run = assemble_run(config, dataset, device)
        steps[variant] = iteration(run)
        if variant == "single":
            steps["input"] = input_pipeline(run)
    samples: dict[str, list[float]] = {name: [] for name in steps}
    cycle = bench.meta_every  # a round spans one generator step: the mean over its iterations
    for round_ in range(bench.warmup + bench.iterations):
        for name, step in steps.items():
            seconds = sum(timed(step, device) for _ in range(cycle)) / cycle
            if round_ >= bench.warmup:
                samples[name].append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}
