"""`maxl bench`: the JSON interface an outside check reads, on a tiny setting, and the table."""

import json

import pytest

from maxl.bench import BenchConfig, describe, format_table
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
