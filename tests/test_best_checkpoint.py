"""With a validation split a run keeps best.pt (the epoch of best validation accuracy, chosen
without the test set) and --early-stop N ends it N epochs after that epoch."""

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import maxl
from maxl.assembly import train as train_run
from maxl.assembly.datasets import load_dataset
from maxl.cli import build_parser, config_from_args, main

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


def test_your_own_validation_split_from_an_npz_and_from_fit(tmp_path):
    """x_val/y_val in the .npz (val= in maxl.fit) are scored every epoch instead of a share of
    the training images: val_accuracy is their accuracy, by an independent count."""
    x, y = load_digits(return_X_y=True)
    images = (x.reshape(-1, 8, 8) * 16).clip(0, 255).astype("uint8")
    parity = y % 2
    arrays = dict(x_train=images[:600], y_train=parity[:600], x_test=images[1400:],
                  y_test=parity[1400:], x_val=images[600:800], y_val=parity[600:800])  # fmt: skip
    np.savez(tmp_path / "d.npz", **arrays)
    out = tmp_path / "npz"
    args = ["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--method", "single"]
    args += ["--epochs", "3", "--early-stop", "5", "--analysis-size", "0", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert results["num_train"] == 600 and results["num_val"] == 200
    model = maxl.load(out)  # the last epoch's network, scored on the validation images
    counted = (model.predict(arrays["x_val"]) == torch.tensor(arrays["y_val"])).double().mean()
    assert metrics[-1]["val_accuracy"] == counted.item()
    fit = maxl.fit(lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16)),
                   train=(torch.tensor(images[:600]), torch.tensor(parity[:600])),
                   test=(torch.tensor(images[1400:]), torch.tensor(parity[1400:])),
                   val=(torch.tensor(images[600:800]), torch.tensor(parity[600:800])),
                   method="single", epochs=2, analysis_size=0, progress=False,
                   out=tmp_path / "fit")  # fmt: skip
    assert fit.results["num_val"] == 200 and "best_epoch" in fit.results
    with pytest.raises(maxl.MaxlError, match="own validation split; drop --val-fraction"):
        main_args = [*args, "--val-fraction", "0.1", "--out", str(tmp_path / "both")]
        raise_from_main(main_args)


def raise_from_main(args):
    """maxl train's error as an exception, for pytest.raises."""

    train_run(config_from_args(build_parser().parse_args(args)))


def test_an_early_stopped_run_resumed_stays_stopped_and_other_patience_is_refused(tmp_path):
    first, _ = train(tmp_path / "run", "--epochs", "40", "--early-stop", "2")
    assert first["epochs_trained"] < 40  # it did stop early
    again, metrics_again = train(
        tmp_path / "run", "--epochs", "40", "--early-stop", "2", "--resume"
    )
    assert again["epochs_trained"] == first["epochs_trained"] == len(metrics_again)
    assert again["test_accuracy"] == first["test_accuracy"]
    with pytest.raises(maxl.MaxlError, match="early_stop: 2 there, 3 here"):
        args = [*BASE, "--out", str(tmp_path / "run"), "--epochs", "40", "--early-stop", "3"]
        raise_from_main([*args, "--resume"])


def test_a_resume_with_another_analysis_size_goes_on(tmp_path):
    """The label-change baseline of the old sample is dropped, not compared with the new."""
    args = ["train", "--dataset", "digits", "--method", "maxl", "--no-progress"]
    args += ["--out", str(tmp_path / "r")]
    assert main([*args, "--epochs", "2", "--analysis-size", "32"]) == 0
    assert main([*args, "--epochs", "3", "--analysis-size", "16", "--resume"]) == 0
    last = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "label_change" not in last and "aux_entropy" in last  # a new sample: no baseline
    assert main([*args, "--epochs", "4", "--analysis-size", "16", "--resume"]) == 0
    last = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "label_change" in last and "label_change_from_start" not in last
