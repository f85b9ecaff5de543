import dataclasses
import json
from pathlib import Path

import pytest
import torch

from maxl.assembly import build_run, train
from maxl.config import TrainConfig


def digits_config(tmp_path: Path, **changes) -> TrainConfig:
    base = TrainConfig(
        dataset="digits", epochs=1, train_size=300, progress=False, out=tmp_path / "run"
    )
    return dataclasses.replace(base, **changes)


def test_single_task_learns_digits(tmp_path):
    """Chance is 10 %; a few epochs of SGD on 8×8 digits must be far above it."""
    results = train(digits_config(tmp_path, method="single", lr=0.1, epochs=4, train_size=None))
    assert results["test_accuracy"] > 0.6


def test_a_cpu_run_is_repeatable(tmp_path):
    config = digits_config(tmp_path, method="maxl", psi=(2,))
    first = train(config)
    second = train(dataclasses.replace(config, out=tmp_path / "again"))
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first["final_train_loss"] == second["final_train_loss"]


def test_every_method_starts_from_the_same_network_and_subset(tmp_path):
    runs = [
        build_run(digits_config(tmp_path, method=m, primary_level="2", kmeans_epochs=1))
        for m in ("single", "random", "kmeans", "human", "maxl")
    ]
    for run in runs[1:]:
        assert torch.equal(run.x_train, runs[0].x_train)
        for a, b in zip(run.net.parameters(), runs[0].net.parameters(), strict=True):
            assert torch.equal(a, b)


def test_maxl_trains_the_generator(tmp_path):
    run = build_run(digits_config(tmp_path, method="maxl", psi=(3,), gen_lr=0.1))
    before = [p.clone() for p in run.method.generator.parameters()]
    from maxl.engine import train_epoch

    train_epoch(run, epoch=1)
    changed = [
        not torch.equal(a, b)
        for a, b in zip(before, run.method.generator.parameters(), strict=True)
    ]
    assert all(changed)


@pytest.mark.parametrize("method", ["single", "maxl"])
def test_non_finite_loss_stops_with_the_step(tmp_path, method):
    from maxl.errors import MaxlError

    with pytest.raises(MaxlError, match="at epoch 1, step"):
        train(digits_config(tmp_path, method=method, lr=1e30))


def test_eval_every_tests_on_those_epochs_and_the_last(tmp_path):
    import json

    train(digits_config(tmp_path, method="single", epochs=5, eval_every=2))
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    tested = [json.loads(line)["epoch"] for line in lines if "test_accuracy" in line]
    assert tested == [2, 4, 5]


def test_bf16_autocast_trains_maxl(tmp_path):
    results = train(digits_config(tmp_path, method="maxl", psi=(2,), precision="bf16"))
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert results["final_train_loss"] > 0


def test_a_run_rebuilt_from_its_results_json_trains_the_same_parameters(tmp_path):
    """results.json records every setting as the run used it: a TrainConfig made from its
    config block alone trains the very same network, bit for bit."""
    first = TrainConfig(dataset="digits", method="maxl", epochs=2, psi=(2,), lr=0.05,
                        weight_decay=1e-3, lr_schedule="cosine", val_fraction=0.1,
                        analysis_size=16, progress=False, out=tmp_path / "a")  # fmt: skip
    train(first)
    recorded = json.loads((tmp_path / "a" / "results.json").read_text())["config"]
    again = TrainConfig.from_mapping({**recorded, "out": tmp_path / "b"}, "results.json")
    assert again == dataclasses.replace(first, out=tmp_path / "b")
    train(again)
    nets = [torch.load(tmp_path / run / "checkpoint.pt", weights_only=True) for run in "ab"]
    for name, tensor in nets[0]["net"].items():
        assert torch.equal(tensor, nets[1]["net"][name])
    for name, tensor in nets[0]["method"]["generator"].items():
        assert torch.equal(tensor, nets[1]["method"]["generator"][name])
