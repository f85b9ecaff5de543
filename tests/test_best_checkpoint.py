"""With a validation split a run keeps best.pt (the epoch of best validation accuracy, chosen
without the test set) and --early-stop N ends it N epochs after that epoch."""

import json

import pytest
import torch

import maxl
from maxl.build.datasets import load_dataset
from maxl.cli import main

BASE = [
    "train",
    "--dataset",
    "digits",
    "--primary-level",
    "2",
    "--method",
    "random",
    "--lr",
    "0.05",
]
BASE += ["--val-fraction", "0.2", "--analysis-size", "0", "--no-progress", "--batch-size", "50"]


def train(out, *extra):
    assert main([*BASE, "--out", str(out), *extra]) == 0
    results = json.loads((out / "results.json").read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return results, metrics


def net_of(path):
    return torch.load(path, map_location="cpu", weights_only=True)["net"]


def test_best_pt_is_the_best_validation_epoch_and_its_test_accuracy(tmp_path):
    results, metrics = train(tmp_path / "long", "--epochs", "6", "--eval-every", "6")
    curve = [m["val_accuracy"] for m in metrics]
    best = curve.index(max(curve)) + 1  # the first of equals
    assert results["best_epoch"] == best and results["best_val_accuracy"] == max(curve)
    # the same seed trained for `best` epochs alone is that epoch (the step schedule does not
    # depend on --epochs): its network and its test accuracy are best.pt's
    short, _ = train(tmp_path / "short", "--epochs", str(best))
    for name, tensor in net_of(tmp_path / "short" / "checkpoint.pt").items():
        assert torch.equal(tensor, net_of(tmp_path / "long" / "best.pt")[name])
    assert results["best_test_accuracy"] == short["test_accuracy"]
    digits = load_dataset("digits", None)
    model = maxl.load(tmp_path / "long", which="best")
    accuracy = (model.predict(digits.x_test) == digits.labels_test["2"]).double().mean().item()
    assert accuracy == results["best_test_accuracy"]


def test_early_stop_ends_the_run_patience_epochs_after_the_best(tmp_path):
    results, metrics = train(tmp_path / "run", "--epochs", "40", "--early-stop", "2")
    curve = [m["val_accuracy"] for m in metrics]
    best = curve.index(max(curve)) + 1
    assert results["epochs_trained"] == len(metrics) == best + 2 < 40
    assert "test_accuracy" in metrics[-1]  # the last epoch is tested
    assert results["test_accuracy"] == metrics[-1]["test_accuracy"]


def test_a_resumed_run_keeps_best_pt_right(tmp_path):
    whole, _ = train(tmp_path / "whole", "--epochs", "6")
    train(tmp_path / "parts", "--epochs", "3")
    resumed, _ = train(tmp_path / "parts", "--epochs", "6", "--resume")
    assert resumed["best_epoch"] == whole["best_epoch"]
    assert resumed["best_test_accuracy"] == whole["best_test_accuracy"]
    for name, tensor in net_of(tmp_path / "whole" / "best.pt").items():
        assert torch.equal(tensor, net_of(tmp_path / "parts" / "best.pt")[name])


def test_early_stop_needs_a_validation_split(tmp_path, capsys):
    args = ["train", "--dataset", "digits", "--early-stop", "3", "--out", str(tmp_path / "x")]
    assert main(args) == 2
    assert "needs a validation split" in capsys.readouterr().err
    with pytest.raises(maxl.MaxlError, match="no validation split"):
        train(tmp_path / "plain", "--epochs", "1", "--val-fraction", "0")
        maxl.load(tmp_path / "plain", which="best")
