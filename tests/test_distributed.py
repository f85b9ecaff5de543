"""Data-parallel training: shards of one global batch on 2 gloo processes compute what one
process computes on the whole batch, from the batch norm up to `torchrun -m maxl train`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from distributed_helpers import check_against_one_process

from maxl.assembly import build_run, train
from maxl.cli import main
from maxl.config import TrainConfig
from maxl.distributed import Ranks
from maxl.engine.sampling import epoch_batches

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)


def test_batch_norm_and_both_hypergradients_reduce_to_the_global_batch(tmp_path):
    mp.spawn(check_against_one_process, args=(2, str(tmp_path / "store")), nprocs=2)


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


@pytest.mark.parametrize(("schedule", "meta_data"), [("epochs", "same"), ("batches", "next")])
def test_torchrun_two_processes_equal_one_process_on_the_global_batch(
    tmp_path, schedule, meta_data
):
    """2 gloo processes with --sync-bn against 1 process with the same global batch: both
    networks' parameters agree to 1e-5 relative after a few iterations (exact hypergradient),
    with the paper's schedule and with the fused one (its meta batch the next batch)."""
    options = {
        "dataset": "digits",
        "method": "maxl",
        "psi": (2,),
        "train_size": 160,
        "batch_size": 40,
        "epochs": 1,
        "gen_lr": 0.1,  # the generator must move well beyond the tolerance
        "device": "cpu",
        "schedule": schedule,
        "meta_data": meta_data,
    }
    args = ["--dataset", "digits", "--method", "maxl", "--psi", "2", "--train-size", "160"]
    args += ["--batch-size", "40", "--epochs", "1", "--gen-lr", "0.1", "--device", "cpu"]
    args += ["--schedule", schedule, "--meta-data", meta_data]
    two = tmp_path / "two"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", "-m", "maxl", "train", *args, "--sync-bn"]
    result = subprocess.run(
        [*command, "--no-progress", "--out", str(two)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("results in") == 1  # only rank 0 speaks
    assert "2 processes" in result.stdout
    assert sorted(p.name for p in two.iterdir()) == [
        "aux_labels.npz",
        "checkpoint.pt",
        "metrics.jsonl",
        "results.json",
    ]

    config = TrainConfig(**options, sync_bn=True, progress=False, out=tmp_path / "one")
    start = build_run(config)
    generator_start = start.method.generator.state_dict()
    one = train(config)
    parallel = torch.load(two / "checkpoint.pt", weights_only=True)
    single = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)
    pairs = [(parallel["net"], single["net"])]
    pairs.append((parallel["method"]["generator"], single["method"]["generator"]))
    for got, expected in pairs:
        assert got.keys() == expected.keys()
        for name in expected:
            if expected[name].is_floating_point():
                assert relative_difference(got[name], expected[name]) <= 1e-5, name
    moved = single["method"]["generator"]["head.weight"] - generator_start["head.weight"]
    assert moved.norm() > 1e-3 * generator_start["head.weight"].norm()  # 100× the tolerance
    assert parallel["metrics"][0]["train_loss"] == pytest.approx(one["final_train_loss"], rel=1e-5)
    # every rank runs the same analysis, so its global BatchNorm sees what one process sees
    for key in ("grad_cosine", "aux_entropy", "aux_marginal_entropy"):
        assert parallel["metrics"][0][key] == pytest.approx(single["metrics"][0][key], abs=1e-5)


def test_every_rank_trains_on_an_equal_share_of_the_same_global_batches(tmp_path):
    config = TrainConfig(
        dataset="digits", method="single", train_size=203, batch_size=50, out=tmp_path
    )
    shards = []
    for rank in range(2):
        run = build_run(config)
        run.ranks = Ranks(rank, 2)
        batches = epoch_batches(run)
        # 203 = 4·50 + 3: the short last batch is cut to 2, one row per rank, and dropped
        assert [len(rows) for rows in batches] == [50, 50, 50, 50]
        shards.append([rows[run.ranks.shard(len(rows))] for rows in batches])
    for first, second in zip(*shards, strict=True):
        assert len(first) == len(second) == 25
        assert not set(first.tolist()) & set(second.tolist())


def test_a_batch_size_that_does_not_split_over_the_processes_is_a_clear_error(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("WORLD_SIZE", "3")
    code = main(["train", "--dataset", "digits", "--batch-size", "100", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--batch-size 100 does not split evenly over 3 processes" in err
    assert list(tmp_path.iterdir()) == []
