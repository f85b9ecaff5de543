"""benchmarks/gpu_check.sh, run on the CPU with tiny settings: it must finish, write every
bench table and JSON with each row's ratio, and train one epoch, so that a session lent a GPU
runs it once without trying it first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


def test_the_gpu_check_runs_on_the_cpu_with_tiny_settings(tmp_path):
    env = {
        **os.environ,
        "DEVICE": "cpu",
        "ITERATIONS": "1",
        "WARMUP": "0",
        "BATCH": "4",
        "IMAGES": "40",
        "BACKBONES": "resnet18",
        "PRECISIONS": "bf16",
        "PYTHON": sys.executable,
    }
    out = tmp_path / "check"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((out / "bench-resnet18-bf16.json").read_text())
    for key in ("single", "human", "exact", "finite-difference", "exact-depth1-light"):
        assert rows[key]["seconds_per_iteration"] > 0
        assert rows[key]["peak_memory_mb"] >= 0
    report = (out / "gpu_check.md").read_text()
    assert "--backbone resnet18 --batch-size 4" in report and "--precision bf16" in report
    assert "| exact-epochs-depth1-light |" in report
    results = json.loads((out / "train-results.json").read_text())
    assert results["epochs"] == 1 and results["num_train"] == 40
    assert results["config"]["backbone"] == "vgg16" and results["device"] == "cpu"
    assert "epoch   1/1" in report
    assert sorted(p.name for p in out.iterdir()) == [
        "bench-resnet18-bf16.json", "gpu_check.md", "train-results.json", "train.log"
    ]  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_without_a_gpu_the_check_says_so_and_writes_nothing(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "check")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "gpu_check: torch sees no CUDA device here; run it on a GPU machine, or set DEVICE=cpu"
    )
    assert list((tmp_path / "check").iterdir()) == []
