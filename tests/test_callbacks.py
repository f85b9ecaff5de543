"""Callbacks: the hooks run in the documented order with the run's state, metrics they add
reach metrics.jsonl, and their state_dict is saved in the checkpoint and restored on resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits

import maxl
from maxl.build import train
from maxl.config import TrainConfig


class Recorder(maxl.Callback):
    """Counts epochs across a resume (its state), adds a metric and notes every hook."""

    def __init__(self) -> None:
        self.epochs_seen = 0
        self.calls: list[tuple[str, Any]] = []

    def on_epoch_end(self, state: maxl.FitState, record: dict[str, Any]) -> None:
        self.epochs_seen += 1
        record["epochs_seen"] = self.epochs_seen
        record["lr_now"] = state.optimizer.param_groups[0]["lr"]
        self.calls.append(("epoch_end", record["epoch"]))

    def on_epoch_saved(self, state: maxl.FitState, record: dict[str, Any]) -> None:
        out = Path(state.config.out)
        lines = (out / "metrics.jsonl").read_text().splitlines()
        self.calls.append(("saved", json.loads(lines[-1])["epoch"]))

    def on_fit_end(self, state: maxl.FitState, out: Path) -> None:
        self.calls.append(("fit_end", (out / "results.json").exists()))

    def state_dict(self) -> dict[str, Any]:
        return {"epochs_seen": self.epochs_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs_seen = state["epochs_seen"]


def digits() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    x, digit = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:240], dtype=torch.float32), torch.tensor(digit[:240]) % 2
    return (x[:200], y[:200]), (x[200:], y[200:])


def test_hooks_run_in_order_and_their_metrics_reach_metrics_jsonl(tmp_path) -> None:
    recorder = Recorder()
    (train_data, test_data), out = digits(), tmp_path / "run"
    maxl.fit(
        torch.nn.Flatten,
        train_data,
        test_data,
        method="single",
        out=out,
        callbacks=[recorder],
        epochs=2,
        lr=0.1,
        lr_step=1,
        lr_gamma=0.5,
        batch_size=50,
    )
    assert recorder.calls == [
        ("epoch_end", 1),
        ("saved", 1),
        ("epoch_end", 2),
        ("saved", 2),
        ("fit_end", False),  # before results.json, as documented
    ]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epochs_seen"] for r in records] == [1, 2]
    assert [r["lr_now"] for r in records] == [0.05, 0.025]  # after each epoch's schedule step


def test_callback_state_is_restored_on_resume(tmp_path) -> None:
    first, second = Recorder(), Recorder()
    (x, y), (x_test, y_test) = digits()
    path = tmp_path / "data.npz"
    np.savez(path, x_train=x.numpy(), y_train=y.numpy(), x_test=x_test.numpy(),
             y_test=y_test.numpy())  # fmt: skip
    config = TrainConfig(dataset=f"npz:{path}", method="single", epochs=1, batch_size=50,
                         out=tmp_path / "run", progress=False, analysis_size=0)  # fmt: skip
    train(config, callbacks=[first])
    train(dataclasses.replace(config, epochs=3, resume=True), callbacks=[second])
    assert first.epochs_seen == 1
    assert second.epochs_seen == 3  # 1 restored from the checkpoint, then 2 more
    records = [
        json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epochs_seen"] for r in records] == [1, 2, 3]
