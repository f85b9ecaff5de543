"""Checkpoints: a run killed (SIGKILL) or stopped (Ctrl-C) in its second epoch resumes to exactly
the test accuracy and parameters of an uninterrupted run; the file is complete and atomic.

(CPU runs are deterministic here, in one process or several, so "exactly" means bit for bit.)"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from state_helpers import assert_equal_states

import maxl.engine
from maxl.assembly import train
from maxl.checkpoint import save_checkpoint
from maxl.cli import main
from maxl.config import TrainConfig
from maxl.interrupt import Interrupted
from maxl.methods.maxl import LearnedLabels

CONFIG = TrainConfig(
    dataset="digits",
    method="maxl",
    psi=(2,),
    train_size=150,
    batch_size=50,
    epochs=3,
    schedule="epochs",  # the paper's: a multi-task pass, then a generator pass
    momentum=0.9,  # optimiser state that a resume must carry over
    lr_step=2,  # a learning-rate step inside the run
    device="cpu",
    progress=False,
)
ARGS = ["--dataset", "digits", "--method", "maxl", "--psi", "2", "--train-size", "150"]
ARGS += ["--batch-size", "50", "--epochs", "3", "--momentum", "0.9", "--lr-step", "2"]
ARGS += ["--schedule", "epochs", "--device", "cpu", "--no-progress"]
STEPS_PER_EPOCH = 3


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("uninterrupted")
    results = train(dataclasses.replace(CONFIG, out=out))
    return results, torch.load(out / "checkpoint.pt", weights_only=True)


def kill_in_epoch_two(out: Path) -> int:
    """Start `maxl train` in a process; once epoch 1's checkpoint exists, SIGKILL it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "maxl", "train", *ARGS, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not (out / "checkpoint.pt").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.kill()
    process.communicate(timeout=120)
    return process.returncode


def assert_same_run(resumed: dict, out: Path, uninterrupted: tuple[dict, dict]) -> None:
    results, checkpoint = uninterrupted
    assert resumed["test_accuracy"] == results["test_accuracy"]
    assert resumed["final_train_loss"] == results["final_train_loss"]
    final = torch.load(out / "checkpoint.pt", weights_only=True)
    for part in ("net", "optimizer"):
        assert_equal_states(final[part], checkpoint[part])
    assert_equal_states(final["method"]["generator"], checkpoint["method"]["generator"])
    metrics = (out / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == CONFIG.epochs


def test_a_run_killed_in_its_second_epoch_resumes_to_the_same_result(tmp_path, uninterrupted):
    out = tmp_path / "run"
    assert kill_in_epoch_two(out) == -signal.SIGKILL
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 1 and saved["progress"] is None  # killed in epoch 2
    assert not (out / "results.json").exists()
    resumed = train(dataclasses.replace(CONFIG, out=out, resume=True))
    assert_same_run(resumed, out, uninterrupted)


def test_ctrl_c_checkpoints_the_step_and_resumes_to_the_same_result(
    tmp_path, capsys, monkeypatch, uninterrupted
):
    """A real SIGINT in the middle of epoch 2's second step: the step finishes, the checkpoint
    records that point, `maxl` exits 130, and --resume ends where the uninterrupted run does."""
    steps = {"n": 0}
    train_step = maxl.engine.train_step

    def step_then_press_ctrl_c(*args, **kwargs):
        steps["n"] += 1
        if steps["n"] == STEPS_PER_EPOCH + 2:
            signal.raise_signal(signal.SIGINT)
        return train_step(*args, **kwargs)

    monkeypatch.setattr(maxl.engine, "train_step", step_then_press_ctrl_c)
    out = tmp_path / "run"
    assert main(["train", *ARGS, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.strip() == (
        f"maxl: interrupted: stopped in epoch 2 after step 2; continue with --resume "
        f"(checkpoint {out / 'checkpoint.pt'})"
    )
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 1 and saved["progress"]["train"]["done"] == 2
    assert saved["progress"]["meta"] is None
    monkeypatch.setattr(maxl.engine, "train_step", train_step)
    resumed = train(dataclasses.replace(CONFIG, out=out, resume=True))
    assert_same_run(resumed, out, uninterrupted)


def test_ctrl_c_in_the_generator_pass_resumes_to_the_same_result(
    tmp_path, capsys, monkeypatch, uninterrupted
):
    """--schedule epochs: a SIGINT during epoch 2's generator pass, after its second step."""
    steps = {"n": 0}
    meta_step = LearnedLabels.meta_step

    def step_then_press_ctrl_c(self, *args, **kwargs):
        steps["n"] += 1
        meta_step(self, *args, **kwargs)
        if steps["n"] == STEPS_PER_EPOCH + 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(LearnedLabels, "meta_step", step_then_press_ctrl_c)
    out = tmp_path / "run"
    assert main(["train", *ARGS, "--out", str(out)]) == 130
    assert "stopped in epoch 2 after step 2 of the generator pass" in capsys.readouterr().err
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["progress"]["train"]["done"] == STEPS_PER_EPOCH
    assert saved["progress"]["meta"]["done"] == 2
    monkeypatch.setattr(LearnedLabels, "meta_step", meta_step)
    resumed = train(dataclasses.replace(CONFIG, out=out, resume=True))
    assert_same_run(resumed, out, uninterrupted)


@pytest.mark.parametrize("meta_data", ["same", "holdout:0.2"])
def test_the_fused_schedule_resumes_mid_epoch_to_the_same_result(tmp_path, monkeypatch, meta_data):
    """--schedule batches (and a held-out meta batch, drawn from the seed alone): stopped after
    epoch 2's first step, resumed, it ends where the uninterrupted run does."""
    config = dataclasses.replace(CONFIG, schedule="batches", meta_data=meta_data)
    straight = train(dataclasses.replace(config, out=tmp_path / "straight"))
    reference = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    steps = {"n": 0}
    train_step = maxl.engine.train_step

    def step_then_press_ctrl_c(*args, **kwargs):
        steps["n"] += 1
        if steps["n"] == STEPS_PER_EPOCH + 1:
            signal.raise_signal(signal.SIGINT)
        return train_step(*args, **kwargs)

    monkeypatch.setattr(maxl.engine, "train_step", step_then_press_ctrl_c)
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        train(dataclasses.replace(config, out=out))
    monkeypatch.setattr(maxl.engine, "train_step", train_step)
    resumed = train(dataclasses.replace(config, out=out, resume=True))
    assert_same_run(resumed, out, (straight, reference))


def test_the_checkpoint_holds_every_part_of_the_run(uninterrupted):
    _, checkpoint = uninterrupted
    assert checkpoint["epoch"] == CONFIG.epochs and checkpoint["progress"] is None
    assert set(checkpoint["method"]) == {"generator", "optimizer", "scheduler", "iteration"}
    assert checkpoint["method"]["iteration"] == 0  # counts fused steps; the paper schedule has none
    assert checkpoint["scheduler"]["last_epoch"] == CONFIG.epochs
    assert checkpoint["optimizer"]["state"]  # momentum buffers
    assert {"run", "torch"} <= set(checkpoint["rng"])
    assert [record["epoch"] for record in checkpoint["metrics"]] == [1, 2, 3]
    assert checkpoint["config"]["lr"] == CONFIG.lr and "out" not in checkpoint["config"]


def test_a_finished_run_continues_with_more_epochs(tmp_path):
    single = dataclasses.replace(CONFIG, method="single", psi=None, epochs=2, train_size=100)
    straight = train(dataclasses.replace(single, out=tmp_path / "straight"))
    train(dataclasses.replace(single, epochs=1, out=tmp_path / "run"))
    extended = train(dataclasses.replace(single, out=tmp_path / "run", resume=True))
    assert extended["test_accuracy"] == straight["test_accuracy"]
    assert extended["final_train_loss"] == straight["final_train_loss"]


def test_a_failed_save_keeps_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.ones(3)})
    before = path.read_bytes()

    def save_half_then_fail(obj: object, handle) -> None:
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"epoch": 2, "weights": torch.zeros(3)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.pt"]
