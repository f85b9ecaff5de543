"""`maxl bench`: seconds per training iteration and peak memory of single, human and MAXL
(exact, finite-difference and implicit hypergradients on the fused `batches` schedule, exact on
the paper's `epochs` schedule, and exact with less work per meta step: `--meta-depth 1`, a light
generator, both, and both on the `epochs` schedule) on one backbone, batch and random data. An
`epochs` iteration is one multi-task step and one generator step of the separate pass, so that
its ratio compares with the fused one's: both schedules take one generator step per multi-task
step.

Timing is interleaved (one iteration of each variant per round, after a warm-up) so that every
variant sees the same machine state, and reported as medians over rounds; with --meta-every K a
round is K iterations (one generator step) and counts their mean. Peak memory is measured in a
fresh process per variant: CUDA's peak allocation there, or on CPU (Linux) the peak resident
set above the resident set just before the networks are built, the kernel's peak mark reset at
that point; either counts parameters, gradients, activations and optimiser state.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from maxl.assembly import assemble_run, check_config, resolve_device
from maxl.config import TrainConfig
from maxl.data.dataset import ImageDataset
from maxl.engine import Run
from maxl.errors import MaxlError
from maxl.step import precision_context, prepare_batch, train_step

# Each row and what it changes in MAXL's settings (`light`: the light generator's trunk).
VARIANTS: dict[str, dict[str, Any]] = {
    "single": {"method": "single"},
    "human": {"method": "human"},
    "exact": {},
    "finite-difference": {"hypergrad": "finite-difference"},
    "implicit": {"hypergrad": "implicit"},
    "exact-epochs": {"schedule": "epochs"},
    "exact-depth1": {"meta_depth": 1},
    "exact-light": {"light": True},
    "exact-depth1-light": {"meta_depth": 1, "light": True},
    "exact-epochs-depth1-light": {"schedule": "epochs", "meta_depth": 1, "light": True},
}


@dataclass(frozen=True)
class BenchConfig:
    """What to time: backbone, batch and image shape, rounds, device and MAXL's options."""

    backbone: str = "small-cnn"
    batch_size: int = 100
    image_size: int = 28
    channels: int = 1
    iterations: int = 10
    warmup: int = 2
    device: str = "auto"
    precision: str = "fp32"
    meta_every: int = 1
    num_primary: int = 20
    aux_per_class: int = 5
    light_generator: str | None = None  # the light rows' generator trunk (light_generator_name)


def light_generator_name(bench: BenchConfig) -> str:
    """The trunk of the light-generator rows: --light-generator, else the small CNN (the mlp
    when the network is the small CNN itself)."""
    if bench.light_generator is not None:
        return bench.light_generator
    return "mlp" if bench.backbone == "small-cnn" else "small-cnn"


def train_config(bench: BenchConfig, variant: str) -> TrainConfig:
    """The training settings of one variant: paper defaults, the bench's shape and device."""
    settings = dict(VARIANTS[variant])
    if settings.pop("light", False):
        settings["gen_backbone"] = light_generator_name(bench)
    defaults: dict[str, Any] = {"method": "maxl", "hypergrad": "exact", "schedule": "batches"}
    return TrainConfig(
        dataset="random",
        backbone=bench.backbone,
        batch_size=bench.batch_size,
        device=bench.device,
        precision=bench.precision,
        meta_every=bench.meta_every,
        progress=False,
        **{**defaults, **settings},
    )


def describe(bench: BenchConfig, variant: str) -> str:
    """A row's name in the table, e.g. 'maxl (exact, epochs schedule, depth 1, mlp generator)'."""
    config = train_config(bench, variant)
    if config.method != "maxl":
        return config.method
    parts = [config.hypergrad]
    if config.hypergrad == "implicit":
        parts.append(f"J = {config.neumann_terms}")
    if config.schedule == "epochs":
        parts.append("epochs schedule")
    if config.meta_depth is not None:
        parts.append(f"depth {config.meta_depth}")
    if config.gen_backbone is not None:
        parts.append(f"{config.gen_backbone} generator")
    return f"maxl ({', '.join(parts)})"


def random_dataset(bench: BenchConfig) -> ImageDataset:
    """Random uint8 images with nested random labels: primary = fine // aux_per_class."""
    if min(bench.batch_size, bench.image_size, bench.channels, bench.iterations) < 1:
        raise MaxlError("--batch-size, --image-size, --channels and --iterations must be >= 1")
    g = torch.Generator().manual_seed(0)
    num_fine = bench.num_primary * bench.aux_per_class
    n = max(bench.batch_size, num_fine)  # every fine class present, so ψ is the same for all
    shape = (n, bench.channels, bench.image_size, bench.image_size)
    fine = torch.cat([torch.arange(num_fine), torch.randint(0, num_fine, (n,), generator=g)])[:n]
    levels = {str(bench.num_primary): fine // bench.aux_per_class, str(num_fine): fine}
    return ImageDataset(
        name="random",
        x_train=torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
        x_test=torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
        labels_train=levels,
        labels_test=levels,
        default_level=str(bench.num_primary),
        flip=True,
        class_names={},
    )


def iteration(run: Run) -> Callable[[], None]:
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


def input_pipeline(run: Run) -> Callable[[], None]:
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


def peak_memory_mb(bench: BenchConfig, variant: str) -> float:
    """Peak memory of one variant's first iterations, measured in a fresh Python process.

    glibc is told to serve every allocation above 128 KiB by mmap, so freed tensors leave the
    resident set at once and its peak follows the live tensors, not the allocator's reuse.
    """
    probe = [sys.executable, "-m", "maxl.bench", json.dumps({**asdict(bench), "variant": variant})]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    done = subprocess.run(probe, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise MaxlError(f"the memory probe of {variant} failed: {last}")
    return float(done.stdout.strip().splitlines()[-1])


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False elsewhere."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**10
    raise MaxlError(f"/proc/self/status has no {field}")


def probe(bench: BenchConfig, variant: str, iterations: int = 2) -> float:
    """Peak MiB of building `variant` and running `iterations` of it, in this (fresh) process."""
    device = resolve_device(bench.device)
    dataset = random_dataset(bench)
    config = train_config(bench, variant)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before: float = torch.cuda.memory_allocated(device)
    elif reset_peak_rss():
        before = rss_mb("VmRSS")
    else:
        raise MaxlError("peak CPU memory needs Linux's /proc; run maxl bench on Linux or CUDA")
    step = iteration(assemble_run(config, dataset, device))
    for _ in range(iterations):
        timed(step, device)
    if device.type == "cuda":
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    return rss_mb("VmHWM") - before


def run_bench(bench: BenchConfig) -> dict[str, dict[str, float]]:
    """Timing and memory of every variant, with ratios to single."""
    seconds = time_variants(bench)
    memory = {variant: peak_memory_mb(bench, variant) for variant in VARIANTS}
    results: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        results[variant] = {
            "seconds_per_iteration": seconds[variant],
            "peak_memory_mb": memory[variant],
            "time_ratio": seconds[variant] / seconds["single"],
            "memory_ratio": memory[variant] / memory["single"],
        }
    results["single"]["input_pipeline_seconds"] = seconds["input"]
    return results


def format_table(bench: BenchConfig, results: dict[str, dict[str, float]]) -> str:
    """The results as a Markdown table with a one-line description of the setting."""
    device = resolve_device(bench.device)
    lines = [
        f"{bench.backbone}, batch {bench.batch_size}, {bench.channels}×{bench.image_size}×"
        f"{bench.image_size}, {device}, {bench.precision}, meta every {bench.meta_every}: "
        f"median of {bench.iterations} interleaved rounds of {bench.meta_every} iteration(s) "
        f"after {bench.warmup} warm-up",
        "",
        "| method | s / iteration | × single | peak memory (MiB) | × single |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant, r in results.items():
        lines.append(
            f"| {describe(bench, variant)} | {r['seconds_per_iteration']:.4f} | "
            f"{r['time_ratio']:.2f} | {r['peak_memory_mb']:.0f} | {r['memory_ratio']:.2f} |"
        )
    pipeline = results["single"]["input_pipeline_seconds"]
    share = pipeline / results["single"]["seconds_per_iteration"]
    lines += ["", f"input pipeline: {pipeline:.5f} s per batch, {100 * share:.1f} % of single"]
    return "\n".join(lines)


if __name__ == "__main__":  # the memory probe: python -m maxl.bench '{"variant": ..., ...}'
    settings = json.loads(sys.argv[1])
    variant_name = settings.pop("variant")
    print(probe(BenchConfig(**settings), variant_name))
