"""--optimizer, --weight-decay and --lr-schedule: the network's optimiser is torch's SGD or AdamW
with exactly the given settings (compared with one built here by hand), the cosine schedule
follows its closed form epoch by epoch for the network and MAXL's generator alike (the step
schedule as before), and a cosine AdamW run with weight decay stopped after epoch 2 resumes
bit for bit, while a resume with another --epochs is refused."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from state_helpers import assert_equal_states

import maxl
import maxl.engine
from maxl.assembly import build_run, train
from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.interrupt import Interrupted

CONFIG = TrainConfig(
    dataset="digits",
    method="maxl",
    psi=(2,),
    train_size=100,
    batch_size=50,  # 2 steps per epoch
    epochs=4,
    lr=0.05,
    gen_lr=0.02,
    device="cpu",
    progress=False,
    analysis_size=0,
)
STEPS_PER_EPOCH = 2


def settings(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Each parameter group's hyperparameters (without its parameters and the schedule's
    initial_lr, which a hand-built optimiser without a schedule lacks)."""
    return [
        {k: v for k, v in group.items() if k not in ("params", "initial_lr")}
        for group in optimizer.param_groups
    ]


def optimised(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def assert_optimises_the_network(optimizer: torch.optim.Optimizer, net: torch.nn.Module) -> None:
    params = optimised(optimizer)
    assert len(params) == len(list(net.parameters()))
    assert all(a is b for a, b in zip(params, net.parameters(), strict=True))


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 5e-4)])
def test_sgd_is_torch_sgd_with_the_given_momentum_and_weight_decay(momentum, weight_decay):
    config = dataclasses.replace(CONFIG, lr=0.03, momentum=momentum, weight_decay=weight_decay)
    run = build_run(config)
    assert type(run.optimizer) is torch.optim.SGD
    by_hand = torch.optim.SGD(
        run.net.parameters(), lr=0.03, momentum=momentum, weight_decay=weight_decay
    )
    assert settings(run.optimizer) == settings(by_hand)
    group = run.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.03, momentum, weight_decay)
    assert group["initial_lr"] == 0.03
    assert_optimises_the_network(run.optimizer, run.net)


@pytest.mark.parametrize(("momentum", "beta1"), [(0.0, 0.9), (0.8, 0.8)])
def test_adamw_takes_lr_weight_decay_and_momentum_as_beta1(momentum, beta1):
    config = dataclasses.replace(
        CONFIG, optimizer="adamw", lr=0.002, momentum=momentum, weight_decay=0.05
    )
    run = build_run(config)
    assert type(run.optimizer) is torch.optim.AdamW
    by_hand = torch.optim.AdamW(
        run.net.parameters(), lr=0.002, betas=(beta1, 0.999), weight_decay=0.05
    )
    assert settings(run.optimizer) == settings(by_hand)
    group = run.optimizer.param_groups[0]
    assert group["lr"] == 0.002 and group["weight_decay"] == 0.05
    assert tuple(group["betas"]) == (beta1, 0.999)
    assert_optimises_the_network(run.optimizer, run.net)


def test_the_generator_keeps_its_own_optimiser_whatever_the_network_uses():
    config = dataclasses.replace(
        CONFIG, optimizer="adamw", weight_decay=0.05, gen_lr=0.3, gen_weight_decay=1e-3
    )
    generator = build_run(config).method
    assert type(generator.optimizer) is torch.optim.SGD
    group = generator.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.3, 0.0, 1e-3)
    assert_optimises_the_network(generator.optimizer, generator.generator)


class LearningRates(maxl.Callback):
    """Both learning rates after each epoch's schedule step (what the next epoch uses)."""

    def __init__(self) -> None:
        self.network: list[float] = []
        self.generator: list[float] = []

    def on_epoch_end(self, state: maxl.FitState, record: dict[str, Any]) -> None:
        self.network.append(state.optimizer.param_groups[0]["lr"])
        self.generator.append(state.method.optimizer.param_groups[0]["lr"])


def lr_trace(tmp_path: Path, **changes: Any) -> tuple[LearningRates, list[float]]:
    """Both rates after every epoch of a run, and metrics.jsonl's lr (each epoch's own)."""
    rates = LearningRates()
    config = dataclasses.replace(CONFIG, out=tmp_path / "run", **changes)
    train(config, callbacks=[rates])
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    return rates, [json.loads(line)["lr"] for line in records]


def test_cosine_anneals_both_rates_to_zero_by_the_closed_form(tmp_path):
    epochs, lr, gen_lr = 4, 0.05, 0.02
    rates, used = lr_trace(tmp_path, lr_schedule="cosine", epochs=epochs, lr=lr, gen_lr=gen_lr)

    def cosine(initial: float, e: int) -> float:
        return initial * (1 + math.cos(math.pi * e / epochs)) / 2

    after = range(1, epochs + 1)
    assert rates.network == pytest.approx([cosine(lr, e) for e in after], rel=1e-9, abs=1e-12)
    assert rates.generator == pytest.approx([cosine(gen_lr, e) for e in after], rel=1e-9, abs=1e-12)
    assert rates.network[-1] == pytest.approx(0.0, abs=1e-12)  # annealed to 0 over --epochs
    # epoch e trains at the rate after e - 1 steps: the initial one first
    assert used == pytest.approx([cosine(lr, e - 1) for e in after], rel=1e-9, abs=1e-12)
    assert used[0] == lr


def test_the_step_schedule_still_multiplies_both_rates_by_gamma(tmp_path):
    lr, gen_lr = 0.05, 0.02
    rates, used = lr_trace(tmp_path, lr_step=2, lr_gamma=0.5, epochs=5, lr=lr, gen_lr=gen_lr)
    factors = [0.5 ** (e // 2) for e in range(1, 6)]  # after epochs 1..5: 1, .5, .5, .25, .25
    assert rates.network == pytest.approx([lr * f for f in factors], rel=1e-12)
    assert rates.generator == pytest.approx([gen_lr * f for f in factors], rel=1e-12)
    assert used == pytest.approx([lr * 0.5 ** ((e - 1) // 2) for e in range(1, 6)], rel=1e-12)


# --- resume -----------------------------------------------------------------------------------

RESUMABLE = dataclasses.replace(
    CONFIG, optimizer="adamw", weight_decay=0.05, momentum=0.85, lr_schedule="cosine"
)


class Crash(Exception):
    """The process dying right after a checkpoint was written."""


class CrashAfterEpoch(maxl.Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_saved(self, state: maxl.FitState, record: dict[str, Any]) -> None:
        if record["epoch"] == self.epoch:
            raise Crash


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    results = train(dataclasses.replace(RESUMABLE, out=out))
    return results, torch.load(out / "checkpoint.pt", weights_only=True)


def crash_after_epoch_two(out: Path) -> None:
    with pytest.raises(Crash):
        train(dataclasses.replace(RESUMABLE, out=out), callbacks=[CrashAfterEpoch(2)])
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["progress"] is None
    assert not (out / "results.json").exists()


def ctrl_c_in_epoch_three(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = {"n": 0}
    train_step = maxl.engine.train_step

    def step_then_press_ctrl_c(*args: Any, **kwargs: Any) -> Any:
        steps["n"] += 1
        if steps["n"] == 2 * STEPS_PER_EPOCH + 1:
            signal.raise_signal(signal.SIGINT)
        return train_step(*args, **kwargs)

    monkeypatch.setattr(maxl.engine, "train_step", step_then_press_ctrl_c)
    with pytest.raises(Interrupted):
        train(dataclasses.replace(RESUMABLE, out=out))
    monkeypatch.setattr(maxl.engine, "train_step", train_step)
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["progress"]["train"]["done"] == 1


@pytest.mark.parametrize("stop", ["crash-after-epoch-2", "ctrl-c-in-epoch-3"])
def test_a_cosine_adamw_run_with_weight_decay_resumes_bit_for_bit(
    tmp_path, monkeypatch, uninterrupted, stop
):
    out = tmp_path / "run"
    if stop == "crash-after-epoch-2":
        crash_after_epoch_two(out)
    else:
        ctrl_c_in_epoch_three(out, monkeypatch)
    resumed = train(dataclasses.replace(RESUMABLE, out=out, resume=True))
    results, reference = uninterrupted
    assert resumed["test_accuracy"] == results["test_accuracy"]
    assert resumed["final_train_loss"] == results["final_train_loss"]
    final = torch.load(out / "checkpoint.pt", weights_only=True)
    assert final["optimizer"]["state"]  # AdamW's moments, carried over
    for part in ("net", "optimizer", "scheduler", "method"):
        assert_equal_states(final[part], reference[part])
    assert final["scheduler"]["last_epoch"] == RESUMABLE.epochs
    assert final["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
    records = [line for line in (out / "metrics.jsonl").read_text().splitlines() if line]
    assert len(records) == RESUMABLE.epochs


def test_a_cosine_run_cannot_resume_with_other_epochs(tmp_path):
    out = tmp_path / "run"
    crash_after_epoch_two(out)
    before = (out / "checkpoint.pt").read_bytes()
    with pytest.raises(MaxlError, match=r"epochs: 4 there, 6 here") as refused:
        train(dataclasses.replace(RESUMABLE, out=out, resume=True, epochs=6))
    assert "\n" not in str(refused.value)
    assert (out / "checkpoint.pt").read_bytes() == before


def test_a_step_schedule_run_may_still_resume_with_more_epochs(tmp_path):
    step = dataclasses.replace(RESUMABLE, lr_schedule="step", lr_step=1, epochs=3)
    straight = train(dataclasses.replace(step, out=tmp_path / "straight"))
    train(dataclasses.replace(step, epochs=2, out=tmp_path / "run"))
    extended = train(dataclasses.replace(step, out=tmp_path / "run", resume=True))
    assert extended["test_accuracy"] == straight["test_accuracy"]
    assert extended["final_train_loss"] == straight["final_train_loss"]
