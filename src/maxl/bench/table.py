"""The table of `maxl bench`: every row's time and peak memory, with ratios to single."""

from __future__ import annotations

from maxl.assembly import resolve_device
from maxl.bench.memory import peak_memory_mb
from maxl.bench.timing import time_variants
from maxl.bench.variants import VARIANTS, BenchConfig, describe


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
