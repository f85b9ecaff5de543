"""Peak memory of every row, measured in a fresh process per variant (`python -m maxl.bench`):
CUDA's peak allocation there, or on CPU (Linux) the peak resident set above the resident set
just before the networks are built, the kernel's peak mark reset at that point; either counts
parameters, gradients, activations and optimiser state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from maxl.assembly import assemble_run, resolve_device
from maxl.bench.timing import iteration, timed
from maxl.bench.variants import BenchConfig, random_dataset, train_config
from maxl.errors import MaxlError


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
