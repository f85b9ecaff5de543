"""`maxl train` end to end on digits, and the one-line errors users get for bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from maxl.cli import main

FAST = ["--dataset", "digits", "--epochs", "1", "--train-size", "200", "--no-progress"]


@pytest.mark.parametrize(
    "options",
    [
        ["--method", "single"],
        ["--method", "human", "--primary-level", "2"],
        ["--method", "maxl", "--hypergrad", "exact", "--psi", "2"],
        ["--method", "maxl", "--hypergrad", "finite-difference", "--primary-level", "2"],
    ],
    ids=["single", "human", "maxl-exact", "maxl-finite-difference"],
)
def test_train_writes_results_and_metrics(tmp_path, capsys, options):
    out = tmp_path / "run"
    assert main(["train", *FAST, *options, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    for key in ("method", "dataset", "seed", "epochs", "test_accuracy", "final_train_loss"):
        assert key in results
    assert results["method"] == options[1]
    assert results["dataset"] == "digits"
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert results["wall_time_s"] > 0
    assert results["config"]["train_size"] == 200
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["epoch"] == 1
    assert "test accuracy" in capsys.readouterr().out


def test_human_uses_the_parity_hierarchy(tmp_path):
    out = tmp_path / "run"
    assert (
        main(["train", *FAST, "--method", "human", "--primary-level", "2", "--out", str(out)]) == 0
    )
    assert json.loads((out / "results.json").read_text())["psi"] == [5, 5]


def write_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
        "y_train": rng.integers(0, 2, 40),
        "x_test": rng.integers(0, 256, (10, 8, 8), dtype=np.uint8),
        "y_test": rng.integers(0, 2, 10),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--dataset", "digits", "--psi", "5,5"], "--psi has 2 entries but"),
        (["--dataset", "digits", "--psi", "5,x"], "not a list of whole numbers"),
        (["--dataset", "digits", "--psi", "0"], "ψ must be positive"),
        (["--dataset", "digits", "--method", "human"], "needs finer labels"),
        (["--dataset", "digits", "--primary-level", "7"], "no level '7'"),
        (["--dataset", "imagenet"], "imagenet"),
        (["--dataset", "digits", "--epochs", "0"], "--epochs must be at least 1"),
    ],
)
def test_bad_options_give_one_clear_line(tmp_path, capsys, options, message):
    code = main(["train", "--epochs", "1", "--out", str(tmp_path / "run"), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"y_test": None}, "y_test"),
        ({"y_train": np.array([0, 1, 5, -1] * 10)}, "y_train"),
        ({"x_train": np.zeros((40, 2, 2, 2, 2), dtype=np.uint8)}, "x_train"),
    ],
    ids=["missing-array", "labels-out-of-range", "wrong-shape"],
)
def test_bad_npz_gives_one_clear_line(tmp_path, capsys, overrides, message):
    path = write_npz(tmp_path / "data.npz", **overrides)
    code = main(
        ["train", "--dataset", f"npz:{path}", "--epochs", "1", "--out", str(tmp_path / "r")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["train", *FAST, "--method", "single", "--out", str(blocker / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to output folder" in err


def test_console_entry_point_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "maxl", "train", "--dataset", "digits", "--psi", "1,2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("maxl: error: --psi has 2 entries")
    assert "Traceback" not in result.stderr


def test_help_explains_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "maxl", "train", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in (
        "--dataset",
        "--method",
        "--psi",
        "--backbone",
        "--hypergrad",
        "--epochs",
        "--batch-size",
        "--seed",
        "--out",
        "--primary-level",
    ):
        assert option in result.stdout


def test_npz_with_fine_labels_trains_human_with_the_derived_psi(tmp_path):
    rng = np.random.default_rng(1)
    fine_train, fine_test = rng.integers(0, 5, 40), rng.integers(0, 5, 10)
    coarse = np.array([1, 0, 1, 1, 0])  # fine classes 1, 4 under 0; 0, 2, 3 under 1
    path = write_npz(
        tmp_path / "nested.npz",
        y_train=coarse[fine_train],
        y_test=coarse[fine_test],
        fine_train=fine_train,
        fine_test=fine_test,
    )
    out = tmp_path / "run"
    args = ["train", "--dataset", f"npz:{path}", "--method", "human", "--epochs", "1"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["psi"] == [2, 3]


def test_an_unknown_option_points_to_the_subcommands_help(capsys):
    assert main(["train", "--dataset", "digits", "--epochz", "3"]) == 2
    err = capsys.readouterr().err
    assert err == "maxl train: error: unrecognized arguments: --epochz 3 (see: maxl train --help)\n"


def test_silent_acceptance_became_one_line_warnings(tmp_path, capsys):
    """More --train-size than rows, --image-size on a dataset that is no folder, and test
    classes the training split never shows: each run goes on, with one warning line."""
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
        y_train=np.arange(30) % 2,
        x_test=rng.integers(0, 256, (12, 8, 8), dtype=np.uint8),
        y_test=np.arange(12) % 3,
    )  # fmt: skip  (class 2 is never trained on)
    args = ["train", "--dataset", f"npz:{path}", "--method", "single", "--epochs", "1"]
    args += ["--train-size", "500", "--image-size", "16", "--analysis-size", "0", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line]
    assert warnings == [
        f"maxl: warning: --image-size 16 is used for folder:PATH datasets only; npz:{path} "
        "keeps its own image size",
        f"maxl: warning: --train-size 500 is more than the 30 training rows of npz:{path}; "
        "training on all 30",
        "maxl: warning: test classes [2] never occur in the training split; the network "
        "cannot learn them (check the labels, or draw a larger --train-size)",
    ]
