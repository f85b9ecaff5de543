"""Callbacks: the hooks run in the documented order with the run's state, metrics they add
reach metrics.jsonl, and their state_dict is saved in the checkpoint and restored on resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import maxl
from maxl.analysis.probe import analysis_rows
from maxl.assembly import build_run, train
from maxl.config import TrainConfig
from maxl.data.batches import to_float


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


LABELS = TrainConfig(dataset="digits", method="maxl", psi=(3,), gen_lr=0.5, train_size=150,
                     batch_size=50, epochs=2, analysis_size=64, device="cpu",
                     progress=False)  # fmt: skip


def generator_classes(config: TrainConfig, generator_state: dict | None) -> torch.Tensor:
    """Recomputed here: the analysis rows' most likely classes under the untrained generator
    of `config` (a fresh build with its seed, each BatchNorm given the mean of its inputs'
    batch statistics over the training batches), or under `generator_state` when given."""
    run = build_run(config)
    generator = run.method.generator
    if generator_state is not None:
        generator.load_state_dict(generator_state)
    else:
        batch_norm_from_training_batches(generator, run)
    generator.eval()
    rows = analysis_rows(len(run.x_train), config.analysis_size, config.seed)
    with torch.no_grad():
        labels = [
            generator(to_float(run.x_train[part], run.mean, run.std), run.y_train[part])
            for part in rows.split(config.batch_size)
        ]
    return torch.cat(labels).argmax(1)


def batch_norm_from_training_batches(generator: torch.nn.Module, run: Any) -> None:
    """Each BatchNorm's running mean and (unbiased) variance: the average over the training
    batches of its input's batch statistics, collected by hooks in train mode."""
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    seen: dict[torch.nn.Module, list[tuple[torch.Tensor, torch.Tensor]]] = {n: [] for n in norms}

    def keep(module, inputs, output):
        x = inputs[0].transpose(0, 1).flatten(1)
        seen[module].append((x.mean(1), x.var(1)))

    hooks = [n.register_forward_hook(keep) for n in norms]
    generator.train()
    with torch.no_grad():
        for part in torch.arange(len(run.x_train)).split(run.config.batch_size):
            generator(to_float(run.x_train[part], run.mean, run.std), run.y_train[part])
    for hook in hooks:
        hook.remove()
    for norm, stats in seen.items():
        norm.running_mean.copy_(torch.stack([m for m, _ in stats]).mean(0))
        norm.running_var.copy_(torch.stack([v for _, v in stats]).mean(0))


def share_changed(before: torch.Tensor, after: torch.Tensor) -> float:
    changed = sum(a != b for a, b in zip(before.tolist(), after.tolist(), strict=True))
    return changed / len(before)


def metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_label_change_counts_the_analysis_rows_whose_generated_class_moved(tmp_path) -> None:
    train(dataclasses.replace(LABELS, out=tmp_path / "straight"))
    train(dataclasses.replace(LABELS, epochs=1, out=tmp_path / "stopped"))
    after_one = torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=True)
    after_two = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    start = generator_classes(LABELS, None)
    one = generator_classes(LABELS, after_one["method"]["generator"])
    two = generator_classes(LABELS, after_two["method"]["generator"])

    first, second = metrics(tmp_path / "straight")
    assert first["label_change"] == first["label_change_from_start"]
    for record in (first, second):
        assert 0.0 <= record["label_change"] <= 1.0
        assert 0.0 <= record["label_change_from_start"] <= 1.0
    assert first["label_change_from_start"] == pytest.approx(share_changed(start, one), abs=1e-12)
    assert second["label_change"] == pytest.approx(share_changed(one, two), abs=1e-12)
    assert second["label_change_from_start"] == pytest.approx(share_changed(start, two), abs=1e-12)
    assert second["label_change_from_start"] > 0  # gen_lr 0.5 moves labels: the check has teeth

    # resumed after epoch 1, the analysis keeps the untrained generator's classes
    train(dataclasses.replace(LABELS, out=tmp_path / "stopped", resume=True))
    resumed = metrics(tmp_path / "stopped")[1]
    for key in ("label_change", "label_change_from_start"):
        assert resumed[key] == second[key]


@pytest.mark.parametrize("method", ["single", "random"])
def test_methods_without_learned_labels_record_no_label_change(tmp_path, method) -> None:
    config = dataclasses.replace(LABELS, method=method, epochs=1, out=tmp_path / "run")
    train(config)
    (record,) = metrics(tmp_path / "run")
    assert "analysis_time_s" in record  # the analysis ran
    assert ("aux_entropy" in record) == (method == "random")
    assert not [key for key in record if key.startswith("label_change")]
