"""`maxl bench`: the JSON interface an outside check reads, on a tiny setting."""

import json

import pytest
import torch

from maxl.assembly import assemble_run
from maxl.bench import (
    VARIANTS,
    BenchConfig,
    describe,
    format_table,
    random_dataset,
    train_config,
)
from maxl.cli import main


def test_json_has_every_variant_with_time_and_memory(capsys):
    argv = ["bench", "--batch-size", "8", "--image-size", "8", "--iterations", "2", "--warmup", "1"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == [
        "single", "human", "exact", "finite-difference", "implicit", "exact-epochs",
        "exact-depth1", "exact-light", "exact-depth1-light", "exact-epochs-depth1-light",
    ]  # fmt: skip
    for values in report.values():
        assert values["seconds_per_iteration"] > 0
        assert values["peak_memory_mb"] >= 0
        assert values["time_ratio"] == pytest.approx(
            values["seconds_per_iteration"] / report["single"]["seconds_per_iteration"]
        )


def test_table_shows_ratios_and_the_input_pipeline_share():
    results = {
        v: {"seconds_per_iteration": t, "peak_memory_mb": m, "time_ratio": t / 0.1,
            "memory_ratio": m / 100.0}
        for v, t, m in [("single", 0.1, 100.0), ("human", 0.1, 100.0), ("exact", 0.4, 150.0),
                        ("finite-difference", 0.35, 140.0)]
    }  # fmt: skip
    results["single"]["input_pipeline_seconds"] = 0.002
    table = format_table(BenchConfig(batch_size=4, image_size=8, device="cpu"), results)
    assert "small-cnn, batch 4, 1×8×8, cpu" in table
    assert "| maxl (exact) | 0.4000 | 4.00 | 150 | 1.50 |" in table
    assert describe(BenchConfig(backbone="vgg16"), "exact-epochs-depth1-light") == (
        "maxl (exact, epochs schedule, depth 1, small-cnn generator)"
    )
    assert "2.0 % of single" in table


def test_every_variant_trains_the_same_network_on_the_same_hierarchy():
    bench = BenchConfig(batch_size=4, image_size=8)
    dataset = random_dataset(bench)
    runs = [assemble_run(train_config(bench, v), dataset, torch.device("cpu")) for v in VARIANTS]
    assert all(run.hierarchy.psi == [5] * 20 for run in runs)
    assert [run.method.name for run in runs] == ["single", "human", *["maxl"] * 8]
    configs = {name: run.config for name, run in zip(VARIANTS, runs, strict=True)}
    assert [c.schedule for c in configs.values()][2:] == [
        "batches", "batches", "batches", "epochs", "batches", "batches", "batches", "epochs"
    ]  # fmt: skip
    assert [c.hypergrad for c in configs.values()][2:] == [
        "exact", "finite-difference", "implicit", *["exact"] * 5
    ]  # fmt: skip
    assert [c.meta_depth for c in configs.values()][6:] == [1, None, 1, 1]
    assert [c.gen_backbone for c in configs.values()][6:] == [None, "mlp", "mlp", "mlp"]
    generators = [type(run.method.generator.backbone).__name__ for run in runs[2:]]
    assert generators == ["SmallCNN"] * 5 + ["MLP"] * 3
    for run in runs[1:]:
        for a, b in zip(run.net.parameters(), runs[0].net.parameters(), strict=True):
            assert a.equal(b)


def test_phases_time_the_real_regions_of_each_row_beside_single(capsys):
    argv = ["bench", "--batch-size", "8", "--image-size", "8", "--iterations", "2", "--warmup", "0"]
    assert main([*argv, "--phases", "exact,exact-depth1", "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert list(profile) == ["single", "exact", "exact-depth1"]
    assert list(profile["single"]) == ["rest of the iteration", "whole iteration"]
    regions = ["direction", "label sensitivity", "generator backward"]
    assert list(profile["exact"]) == [*regions, "rest of the iteration", "whole iteration"]
    assert next(iter(profile["exact-depth1"])) == "features below the top blocks"
    for seconds in profile.values():
        assert all(value > 0 for value in seconds.values())
        assert sum(seconds.values()) - seconds["whole iteration"] <= seconds["whole iteration"]


def test_phases_table_and_an_unknown_row(capsys):
    argv = ["bench", "--batch-size", "4", "--image-size", "8", "--iterations", "1", "--warmup", "0"]
    assert main([*argv, "--phases", "finite-difference"]) == 0
    table = capsys.readouterr().out
    assert "maxl (finite-difference):" in table and "| label sensitivity |" in table
    assert main([*argv, "--phases", "exact,fused"]) == 2
    assert "unknown row(s) ['fused']" in capsys.readouterr().err
