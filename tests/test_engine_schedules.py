"""The paper's schedule (a multi-task pass, then a generator pass), the meta data of L_meta,
the validation split, and the generator's optimiser, each checked against an independent
computation (maxl.generator_hypergradient, hand-made SGD and Adam steps, a hand-written eval)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch

import maxl
from maxl.assembly import build_run, train
from maxl.config import TrainConfig
from maxl.engine import train_epoch
from maxl.engine.sampling import epoch_batches, meta_rows
from maxl.methods.maxl import LearnedLabels


def config(tmp_path: Path, **changes) -> TrainConfig:
    base = TrainConfig(
        dataset="digits",
        method="maxl",
        psi=(2,),
        train_size=120,
        batch_size=40,
        epochs=1,
        gen_lr=0.5,
        gen_weight_decay=0.01,
        analysis_size=0,
        device="cpu",
        progress=False,
        out=tmp_path / "run",
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(("meta_data", "meta_depth"), [("same", None), ("next", None), ("next", 1)])
def test_the_generator_pass_steps_by_the_standalone_hypergradient_at_the_current_theta(
    tmp_path, monkeypatch, meta_data, meta_depth
):
    """--schedule epochs: every generator step is SGD with weight decay on
    maxl.generator_hypergradient at the multi-task network's θ after its pass, which the
    generator pass never changes (Algorithm 1's order of updates)."""
    changes = {"schedule": "epochs", "meta_data": meta_data, "meta_depth": meta_depth}
    run = build_run(config(tmp_path, **changes))
    steps = []
    meta_step = LearnedLabels.meta_step

    def record(self, net, x, y, lr, meta=None):
        theta = [p.detach().clone() for p in net.parameters()]
        generator = copy.deepcopy(self.generator)
        expected = maxl.generator_hypergradient(
            copy.deepcopy(net), generator, x, y, inner_lr=lr, entropy_weight=0.2,
            method="exact", meta_batch=meta, meta_depth=meta_depth,
        )  # fmt: skip
        before = [p.detach().clone() for p in self.generator.parameters()]
        meta_step(self, net, x, y, lr, meta)
        steps.append(
            (
                theta,
                before,
                expected,
                [p.detach().clone() for p in self.generator.parameters()],
                meta,
            )
        )

    monkeypatch.setattr(LearnedLabels, "meta_step", record)
    train_epoch(run, epoch=1)
    theta_after_pass = [p.detach() for p in run.net.parameters()]
    assert len(steps) == 3
    for theta, before, grads, after, meta in steps:
        assert all(torch.equal(a, b) for a, b in zip(theta, theta_after_pass, strict=True))
        for old, g, new in zip(before, grads, after, strict=True):
            torch.testing.assert_close(new, old - 0.5 * (g + 0.01 * old), rtol=1e-5, atol=1e-6)
        assert (meta is None) == (meta_data == "same")
    assert not torch.equal(steps[0][1][0], steps[-1][3][0])  # the generator moved


def test_the_fused_schedule_steps_the_generator_inside_the_multi_task_pass(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(LearnedLabels, "meta_step", lambda *args, **kwargs: calls.append(args))
    run = build_run(config(tmp_path, schedule="batches"))
    before = [p.detach().clone() for p in run.method.generator.parameters()]
    train_epoch(run, epoch=1)
    assert calls == []
    after = list(run.method.generator.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_holdout_rows_feed_only_the_meta_objective(tmp_path):
    run = build_run(config(tmp_path, meta_data="holdout:0.25"))
    held = set(run.holdout_rows.tolist())
    assert len(held) == 30 and len(run.train_rows) == 90
    trained = torch.cat(epoch_batches(run)).tolist()
    assert sorted(trained) == sorted(run.train_rows.tolist())
    batches = epoch_batches(run)
    metas = [meta_rows(run, batches, i, key=7) for i in range(len(batches))]
    assert all(set(rows.tolist()) <= held for rows in metas)
    assert torch.cat(metas).unique().numel() == 30  # the batches cycle through the hold-out
    again = [meta_rows(run, batches, i, key=7) for i in range(len(batches))]
    assert all(torch.equal(a, b) for a, b in zip(metas, again, strict=True))  # seed alone
    other = build_run(config(tmp_path, method="random", meta_data="holdout:0.25"))
    assert other.train_rows is None  # only a meta-learned method holds images out


def test_next_takes_the_following_batch_of_the_pass(tmp_path):
    run = build_run(config(tmp_path, meta_data="next"))
    batches = epoch_batches(run)
    got = [meta_rows(run, batches, i, key=0) for i in range(len(batches))]
    assert all(torch.equal(g, batches[(i + 1) % 3]) for i, g in enumerate(got))
    same = build_run(config(tmp_path))
    assert meta_rows(same, batches, 0, key=0) is None


def test_the_validation_split_is_held_out_and_scored_every_epoch(tmp_path):
    cfg = config(tmp_path, method="single", psi=None, val_fraction=0.25, epochs=2)
    results = train(cfg)
    run = build_run(cfg)
    train_rows = set(run.task.train_indices.tolist())
    val_rows = set(run.task.val_indices.tolist())
    assert len(val_rows) == 30 and len(train_rows) == 90 and not train_rows & val_rows
    saved = torch.load(cfg.out / "checkpoint.pt", weights_only=True)
    run.net.load_state_dict(saved["net"])
    run.net.eval()
    with torch.no_grad():
        x = (run.x_val.float() / 255 - run.mean.view(1, -1, 1, 1)) / run.std.view(1, -1, 1, 1)
        correct = (run.net(x)[0].argmax(1) == run.y_val).double().mean().item()
    assert results["val_accuracy"] == pytest.approx(correct)
    lines = (cfg.out / "metrics.jsonl").read_text().splitlines()
    assert all('"val_accuracy"' in line for line in lines)


def test_adam_and_sgd_momentum_step_the_generator_as_torch_does(tmp_path):
    for name, kind, settings in [
        ("adam", torch.optim.Adam, {"betas": (0.9, 0.999)}),
        ("sgd", torch.optim.SGD, {"momentum": 0.5}),
    ]:
        run = build_run(
            config(tmp_path, gen_optimizer=name, gen_momentum=0.5 if name == "sgd" else 0.0)
        )
        optimizer = run.method.optimizer
        assert type(optimizer) is kind
        group = optimizer.param_groups[0]
        assert group["lr"] == 0.5 and group["weight_decay"] == 0.01
        assert all(group[key] == value for key, value in settings.items())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schedule": "weekly"}, "unknown --schedule 'weekly'; choose one of epochs, batches"),
        ({"meta_data": "holdout:1.5"}, "--meta-data 'holdout:1.5' is not same, next or holdout:F"),
        ({"gen_optimizer": "rmsprop"}, "unknown --gen-optimizer 'rmsprop'; choose one of sgd"),
        ({"neumann_terms": -1}, "--neumann-terms must be 0 or more"),
        ({"val_fraction": 1.0}, "--val-fraction 1.0 is not a fraction in"),
    ],
)
def test_bad_settings_are_one_clear_error(tmp_path, changes, message):
    with pytest.raises(maxl.MaxlError, match=message.replace("(", r"\(")):
        build_run(config(tmp_path, **changes))


@pytest.mark.parametrize(
    ("meta_data", "meta_depth"), [("same", None), ("same", 2), ("next", 2), ("holdout:0.2", 1)]
)
def test_the_fused_step_with_a_meta_depth_steps_by_the_standalone_hypergradient(
    tmp_path, monkeypatch, meta_data, meta_depth
):
    """--schedule batches: the generator step that reuses the multi-task step's gradient equals
    SGD on maxl.generator_hypergradient at the θ before the step, at any meta depth and meta
    batch, and leaves the network's .grad and running statistics as the backward left them."""
    changes = {"meta_data": meta_data, "meta_depth": meta_depth, "gen_lr": 0.1}
    run = build_run(config(tmp_path, schedule="batches", **changes))
    labeler = run.method.labeler
    steps = []
    step = type(labeler).step

    def record(self, net, x, y, lr, meta_batch=None):
        expected = maxl.generator_hypergradient(
            copy.deepcopy(net), copy.deepcopy(self.generator), x, y, inner_lr=lr,
            entropy_weight=0.2, meta_batch=meta_batch, meta_depth=meta_depth,
        )  # fmt: skip
        grads = [p.grad.clone() for p in net.parameters()]
        buffers = [b.clone() for b in net.buffers()]
        before = [p.detach().clone() for p in self.generator.parameters()]
        step(self, net, x, y, lr, meta_batch)
        after = [p.detach().clone() for p in self.generator.parameters()]
        assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), grads, strict=True))
        assert all(torch.equal(b, c) for b, c in zip(net.buffers(), buffers, strict=True))
        steps.append((before, expected, after, meta_batch))

    monkeypatch.setattr(type(labeler), "step", record)
    train_epoch(run, epoch=1)
    assert len(steps) == len(epoch_batches(run))
    for before, grads, after, meta_batch in steps:
        assert (meta_batch is None) == (meta_data == "same")
        for old, g, new in zip(before, grads, after, strict=True):
            torch.testing.assert_close(new, old - 0.1 * (g + 0.01 * old), rtol=1e-5, atol=1e-6)


def test_a_light_generator_leaves_the_multi_task_network_as_it_was(tmp_path):
    """--gen-backbone: the generator gets the named trunk; the multi-task network of the seed
    is built exactly as without it, so runs stay paired by seed."""
    plain = build_run(config(tmp_path))
    light = build_run(config(tmp_path, gen_backbone="mlp"))
    assert type(light.method.generator.backbone).__name__ == "MLP"
    assert type(plain.method.generator.backbone).__name__ == "SmallCNN"
    for a, b in zip(plain.net.state_dict().values(), light.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    train_epoch(light, epoch=1)  # an mlp generator over images trains


def test_a_meta_depth_beyond_the_blocks_fails_before_training(tmp_path):
    with pytest.raises(maxl.MaxlError, match="more than the 3 blocks"):
        build_run(config(tmp_path, meta_depth=4))
    with pytest.raises(maxl.MaxlError, match="--meta-depth 0"):
        build_run(config(tmp_path, meta_depth=0))
    with pytest.raises(maxl.MaxlError, match="unknown --gen-backbone 'vgg'"):
        build_run(config(tmp_path, gen_backbone="vgg"))
