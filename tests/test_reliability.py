"""Every row of docs/reliability.md: bad input gets one line naming the problem and the fix, exit
code 2, no traceback, and no file that existed before is lost or half-written."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

import maxl
import maxl.step
from maxl.cli import main

FAST = ["--dataset", "digits", "--method", "single", "--train-size", "100", "--epochs", "2"]
FAST += ["--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """The folder of a finished 2-epoch run: checkpoint.pt, metrics.jsonl, results.json."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *FAST, "--out", str(out)]) == 0
    return out


def write_npz(path: Path, **overrides: np.ndarray | None) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
        "y_train": np.arange(40) % 2,
        "x_test": rng.integers(0, 256, (10, 8, 8), dtype=np.uint8),
        "y_test": np.arange(10) % 2,
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def npz_args(**overrides: np.ndarray | None) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        path = write_npz(tmp / "data.npz", **overrides)
        return ["--dataset", f"npz:{path}", "--method", "single", "--epochs", "1"]

    return setup


def damaged_npz(damage: Callable[[bytes], bytes]) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        path = write_npz(tmp / "data.npz")
        path.write_bytes(damage(path.read_bytes()))
        return ["--dataset", f"npz:{path}", "--epochs", "1"]

    return setup


def fashion_file(content: bytes) -> Callable[[Path], list[str]]:
    """A --data-dir whose Fashion-MNIST training images are `content` (gzip bytes)."""

    def setup(tmp: Path) -> list[str]:
        folder = tmp / "fashion"
        folder.mkdir()
        (folder / "train-images-idx3-ubyte.gz").write_bytes(content)
        return ["--dataset", "fashion-mnist", "--data-dir", str(folder), "--epochs", "1"]

    return setup


def plain(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [*FAST, *args]


def on_checkpoint(
    change: Callable[[Path], None], *args: str, resume: bool = True
) -> Callable[[Path], list[str]]:
    """FAST (plus `args`) on the finished run's folder after `change` to its checkpoint."""

    def setup(tmp: Path) -> list[str]:
        change(tmp / "run" / "checkpoint.pt")
        return [*FAST, *args, *(["--resume"] if resume else [])]

    return setup


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def scramble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[: len(data) // 2] = bytes(len(data) // 2)
    path.write_bytes(bytes(data))


@dataclass(frozen=True)
class Case:
    setup: Callable[[Path], list[str]]  # prepares files under tmp; returns the train options
    message: str
    env: dict[str, str] = field(default_factory=dict)


CASES = {
    "psi-count": Case(plain("--psi", "5,5"), "--psi has 2 entries but the primary task"),
    "psi-zero": Case(plain("--psi", "2,2,2,0,2,2,2,2,2,2"), "ψ must be positive"),
    "psi-not-numbers": Case(plain("--psi", "5,x"), "is not a list of whole numbers"),
    "labels-negative": Case(npz_args(y_train=np.arange(40) % 2 - 1), "has negative label -1"),
    "labels-dtype": Case(npz_args(y_train=np.arange(40) / 2), "labels must be integers"),
    "labels-count": Case(npz_args(y_train=np.arange(39) % 2), "give one label per image"),
    "fine-labels-not-nested": Case(
        npz_args(fine_train=np.arange(40) % 3, fine_test=np.arange(10) % 3),
        "must belong to exactly one primary class",
    ),
    "images-rank": Case(
        npz_args(x_train=np.zeros((40, 2, 2, 2, 2), np.uint8)), "images must be a non-empty"
    ),
    "images-train-test-shapes": Case(
        npz_args(x_test=np.zeros((10, 9, 9), np.uint8)), "give both the same shape"
    ),
    "images-dtype": Case(npz_args(x_train=np.zeros((40, 8, 8), np.int32)), "must be uint8"),
    "images-nan": Case(
        npz_args(x_train=np.full((40, 8, 8), np.nan, np.float32)), "contains NaN or infinity"
    ),
    "images-too-small": Case(
        npz_args(x_train=np.zeros((40, 2, 2), np.uint8), x_test=np.zeros((10, 2, 2), np.uint8)),
        "small-cnn needs images of at least 4x4",
    ),
    "dataset-missing": Case(
        lambda tmp: ["--dataset", f"npz:{tmp / 'missing.npz'}"], "does not exist"
    ),
    "dataset-not-npz": Case(damaged_npz(lambda data: b"just text"), "is not an .npz (zip) file"),
    "dataset-truncated-npz": Case(
        damaged_npz(lambda data: data[: len(data) // 2]), "is not an .npz (zip) file"
    ),
    "dataset-checksum": Case(
        fashion_file(gzip.compress(b"not the images")), "does not match its SHA-256 checksum"
    ),
    "dataset-truncated-gz": Case(
        fashion_file(gzip.compress(np.random.default_rng(0).bytes(1000))[:100]),
        "is corrupt or truncated",
    ),
    "dataset-unknown": Case(plain("--dataset", "imagenet"), "unknown dataset 'imagenet'"),
    "backbone-unknown": Case(plain("--backbone", "resnet50"), "invalid choice: 'resnet50'"),
    "method-unknown": Case(plain("--method", "best"), "invalid choice: 'best'"),
    "device-unknown": Case(plain("--device", "tpu"), "device 'tpu' is not usable here"),
    "epochs-zero": Case(plain("--epochs", "0"), "--epochs must be at least 1"),
    "analysis-size-negative": Case(
        plain("--analysis-size", "-1"), "--analysis-size must be 0 (no analysis) or a number"
    ),
    "schedule-unknown": Case(plain("--schedule", "weekly"), "invalid choice: 'weekly'"),
    "meta-data-bad": Case(
        plain("--meta-data", "holdout:2"), "--meta-data 'holdout:2' is not same, next or holdout:F"
    ),
    "neumann-terms-negative": Case(
        plain("--neumann-terms", "-1"), "--neumann-terms must be 0 or more"
    ),
    "val-fraction-bad": Case(
        plain("--val-fraction", "1.5"), "--val-fraction 1.5 is not a fraction"
    ),
    "val-fraction-empty": Case(
        plain("--val-fraction", "0.001"), "--val-fraction 0.001 holds out 0 of 100 training images"
    ),
    "gen-optimizer-unknown": Case(plain("--gen-optimizer", "lbfgs"), "invalid choice: 'lbfgs'"),
    "meta-depth-zero": Case(
        plain("--meta-depth", "0"), "--meta-depth 0 is not a number of blocks; give 1 or more"
    ),
    "meta-depth-too-deep": Case(
        plain("--method", "maxl", "--meta-depth", "4"),
        "meta depth 4 is more than the 3 blocks of the backbone SmallCNN; give --meta-depth",
    ),
    "gen-backbone-unknown": Case(plain("--gen-backbone", "vgg"), "invalid choice: 'vgg'"),
    "features-and-images": Case(
        npz_args(x_train=np.zeros((40, 5), np.float32)),
        "x_train has shape (40, 5) (feature vectors) but x_test has shape (10, 8, 8)",
    ),
    "batch-per-process": Case(
        plain("--batch-size", "100"),
        "--batch-size 100 does not split evenly over 3 processes",
        env={"WORLD_SIZE": "3"},
    ),
    "out-not-writable": Case(
        lambda tmp: [*FAST, "--out", str(tmp / "run" / "results.json" / "sub")],
        "cannot write to output folder",
    ),
    "checkpoint-other-settings": Case(
        on_checkpoint(lambda path: None, "--lr", "0.1", "--seed", "3"),
        "is from a run with other settings (lr: 0.01 there, 0.1 here; seed: 0 there, 3 here)",
    ),
    "checkpoint-missing": Case(
        on_checkpoint(lambda path: path.unlink()), "--resume: there is no checkpoint"
    ),
    "checkpoint-corrupt": Case(on_checkpoint(scramble), "is corrupt or truncated"),
    "checkpoint-truncated": Case(on_checkpoint(truncate), "is corrupt or truncated"),
    "checkpoint-foreign": Case(
        on_checkpoint(lambda path: torch.save([1, 2], path)), "is not a checkpoint of this maxl"
    ),
    "checkpoint-more-epochs": Case(
        on_checkpoint(lambda path: None, "--epochs", "1"), "has already trained 2 epochs"
    ),
    "unfinished-run-overwritten": Case(
        on_checkpoint(lambda path: (path.parent / "results.json").unlink(), resume=False),
        "holds the checkpoint of an unfinished run; continue it with --resume",
    ),
    "loss-not-finite": Case(
        plain("--lr", "1e30", "--batch-size", "50"), "the training loss became nan at epoch 1"
    ),
}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_nothing_lost_or_half_written(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    for name, data in before.items():
        assert after.get(name) == data, f"{name} was changed or removed"
    assert not [name for name in after if Path(name).name.startswith(".")], "temporary file left"
    for name, data in after.items():
        if name.endswith(".json"):
            json.loads(data)
        if name.endswith(".jsonl"):
            [json.loads(line) for line in data.decode().splitlines()]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gets_one_line_and_leaves_every_file_whole(
    name, tmp_path, capsys, monkeypatch, finished_run
):
    case = CASES[name]
    shutil.copytree(finished_run, tmp_path / "run")  # an earlier run's files, to keep intact
    args = case.setup(tmp_path)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(tmp_path)
    code = main(["train", "--out", str(tmp_path / "run"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert case.message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert_nothing_lost_or_half_written(before, snapshot(tmp_path))


def test_a_non_finite_loss_in_epoch_two_keeps_the_checkpoint_of_epoch_one(
    tmp_path, capsys, monkeypatch
):
    calls = {"n": 0}
    focal_loss = maxl.step.focal_loss

    def poisoned(*args, **kwargs):  # single task, 2 steps per epoch: epoch 2 starts at call 3
        calls["n"] += 1
        loss = focal_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] >= 3 else loss

    monkeypatch.setattr(maxl.step, "focal_loss", poisoned)
    out = tmp_path / "run"
    code = main(["train", *FAST, "--batch-size", "50", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "the training loss became nan at epoch 2, step 1" in err
    assert "keeps the last good state" in err and len(err.strip().splitlines()) == 1
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in saved["net"].values() if t.is_floating_point())
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.jsonl"]

    monkeypatch.setattr(maxl.step, "focal_loss", focal_loss)  # the cause fixed: resume works
    assert main(["train", *FAST, "--batch-size", "50", "--out", str(out), "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["epochs"] == 2


def test_debug_shows_the_traceback(tmp_path, capsys):
    code = main(["--debug", "train", *FAST, "--psi", "0", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("maxl: error: ψ")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--lr", "-1", "--lr -1.0 must be a number above 0"),
        ("--lr", "nan", "--lr nan must be a number above 0"),
        ("--gen-lr", "0", "--gen-lr 0.0 must be a number above 0"),
        ("--momentum", "1.5", "--momentum 1.5 must be in [0, 1)"),
        ("--momentum", "1", "--momentum 1.0 must be in [0, 1)"),
        ("--weight-decay", "-1", "--weight-decay -1.0 must be a number of 0 or more"),
        ("--weight-decay", "inf", "--weight-decay inf must be a number of 0 or more"),
        ("--confidence-weight", "-0.1", "--confidence-weight -0.1 must be a number of 0 or more"),
        ("--lr-gamma", "0", "--lr-gamma 0.0 must be in (0, 1]"),
        ("--lr-gamma", "1.5", "--lr-gamma 1.5 must be in (0, 1]"),
    ],
)
def test_a_setting_out_of_its_range_gets_one_line_before_anything_is_written(
    tmp_path, capsys, option, value, message
):
    out = tmp_path / "run"
    code = main(["train", *FAST, "--method", "maxl", option, value, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("maxl: error:")
    assert message in err
    assert not out.exists()


def test_the_ends_of_each_range_are_accepted(tmp_path, capsys):
    edges = ["--momentum", "0", "--weight-decay", "0", "--confidence-weight", "0"]
    edges += ["--lr-gamma", "1", "--gen-lr", "1e-9", "--epochs", "1", "--train-size", "50"]
    edges += ["--analysis-size", "0"]
    out = tmp_path / "run"
    assert main(["train", *FAST, "--method", "maxl", *edges, "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert json.loads((out / "results.json").read_text())["config"]["lr_gamma"] == 1.0


def test_fit_refuses_a_negative_learning_rate(tmp_path):
    from sklearn.datasets import load_digits

    x, digit = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:120], dtype=torch.float32), torch.tensor(digit[:120]) % 2
    with pytest.raises(maxl.MaxlError, match=r"--lr -1\.0 must be a number above 0") as refused:
        maxl.fit(
            torch.nn.Flatten, (x[:100], y[:100]), (x[100:], y[100:]), lr=-1, out=tmp_path / "run"
        )
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "run").exists()
