"""The per-epoch probe and the label table against independent computations on digits
(primary level 2 = parity, whose finer level is the 10 digits)."""

import copy
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from maxl.analysis.label_table import write_label_table
from maxl.analysis.probe import analysis_rows, measure
from maxl.assembly import build_run, train
from maxl.config import TrainConfig
from maxl.data.batches import to_float
from maxl.engine import train_epoch
from maxl.losses import focal_loss
from maxl.run_folder import AUX_LABELS


def config(tmp_path: Path, **changes) -> TrainConfig:
    base = TrainConfig(
        dataset="digits",
        primary_level="2",
        epochs=1,
        train_size=200,
        batch_size=50,
        progress=False,
        out=tmp_path / "run",
        device="cpu",
    )
    return dataclasses.replace(base, **changes)


def test_analysis_rows_are_a_fixed_seeded_sample():
    rows = analysis_rows(100, 10, seed=3)
    assert torch.equal(rows, analysis_rows(100, 10, seed=3))
    assert len(torch.unique(rows)) == 10 and int(rows.max()) < 100
    assert not torch.equal(rows, analysis_rows(100, 10, seed=4))
    assert torch.equal(analysis_rows(5, 10, seed=0), torch.arange(5))


def test_gradient_cosine_matches_backward_on_a_copy_of_the_network(tmp_path):
    run = build_run(config(tmp_path, method="random", batch_size=64))
    train_epoch(run, epoch=1)
    rows = analysis_rows(len(run.x_train), 64, seed=0)  # one chunk: the batch size
    buffers = {k: v.clone() for k, v in run.net.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in run.net.parameters()]
    record = measure(run, rows)
    for key, value in run.net.state_dict().items():  # running statistics untouched
        assert torch.equal(value, buffers[key]), key
    for p, before in zip(run.net.parameters(), grads, strict=True):  # .grad untouched
        assert (p.grad is None and before is None) or torch.equal(p.grad, before)

    net = copy.deepcopy(run.net).train()
    x = to_float(run.x_train[rows], run.mean, run.std)
    primary_logits, aux_logits = net(x)
    targets = run.method.aux_classes[rows]
    trunk = list(net.backbone.parameters())
    gamma = run.config.focal_gamma
    g_primary = torch.autograd.grad(
        focal_loss(primary_logits, run.y_train[rows], gamma), trunk, retain_graph=True
    )
    g_aux = torch.autograd.grad(focal_loss(aux_logits, targets, gamma), trunk)
    flat = [torch.cat([g.reshape(-1) for g in grads]) for grads in (g_primary, g_aux)]
    expected = F.cosine_similarity(flat[0], flat[1], dim=0).item()
    assert record["grad_cosine"] == pytest.approx(expected, abs=1e-5)


def test_label_metrics_of_fixed_labels_by_hand(tmp_path):
    run = build_run(config(tmp_path, method="random"))
    rows = analysis_rows(len(run.x_train), 120, seed=0)
    record = measure(run, rows)
    classes = run.method.aux_classes[rows]
    counts = torch.bincount(classes, minlength=run.hierarchy.num_aux).double() / len(rows)
    assert record["aux_usage"] == pytest.approx(counts.tolist())
    assert record["aux_entropy"] == 0.0  # hard labels
    nonzero = counts[counts > 0]
    assert record["aux_marginal_entropy"] == pytest.approx(-float((nonzero * nonzero.log()).sum()))


def test_human_labels_agree_with_themselves(tmp_path):
    run = build_run(config(tmp_path, method="human"))
    record = measure(run, analysis_rows(len(run.x_train), 100, seed=0))
    assert record["nmi_human"] == pytest.approx(1.0)
    assert record["nmi_human_within"] == pytest.approx(1.0)


def test_single_has_no_label_metrics(tmp_path):
    run = build_run(config(tmp_path, method="single"))
    assert measure(run, analysis_rows(len(run.x_train), 50, seed=0)) == {}


def test_the_analysis_leaves_training_unchanged(tmp_path):
    results = [
        train(
            config(
                tmp_path,
                method="maxl",
                psi=(2,),
                epochs=2,
                analysis_size=size,
                out=tmp_path / f"a{size}",
            )
        )
        for size in (0, 64)
    ]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    assert results[0]["final_train_loss"] == results[1]["final_train_loss"]
    states = [torch.load(tmp_path / f"a{s}" / "checkpoint.pt", weights_only=True) for s in (0, 64)]
    for key, value in states[0]["net"].items():
        assert torch.equal(value, states[1]["net"][key]), key
    for key, value in states[0]["method"]["generator"].items():
        assert torch.equal(value, states[1]["method"]["generator"][key]), key
    records = [json.loads(line) for line in (tmp_path / "a64" / "metrics.jsonl").open()]
    assert len(records) == 2
    for record in records:
        assert -1.0 <= record["grad_cosine"] <= 1.0
        assert sum(record["aux_usage"]) == pytest.approx(1.0)
        assert 0.0 <= record["aux_entropy"] <= math.log(2) + 1e-9  # ψ = 2 per class
        assert 0.0 <= record["nmi_human"] <= 1.0
    plain = [json.loads(line) for line in (tmp_path / "a0" / "metrics.jsonl").open()]
    assert "grad_cosine" not in plain[0] and "aux_usage" not in plain[0]


def test_label_table_of_maxl_is_the_generators_argmax(tmp_path):
    run = build_run(config(tmp_path, method="maxl", psi=(3,)))
    train_epoch(run, epoch=1)
    generator = copy.deepcopy(run.method.generator).eval()
    with torch.no_grad():
        expected = generator(to_float(run.x_train, run.mean, run.std), run.y_train)
    path = write_label_table(run, tmp_path)
    assert path == tmp_path / AUX_LABELS
    table = np.load(path)
    assert np.array_equal(table["rows"], run.task.train_indices.numpy())
    assert np.array_equal(table["primary"], run.y_train.numpy())
    assert np.array_equal(table["aux"], expected.argmax(1).numpy())
    assert np.allclose(table["confidence"], expected.max(1).values.numpy(), atol=1e-6)
    assert table["psi"].tolist() == [3, 3]
    assert run.method.generator.training  # the table is taken in eval mode, then restored


def test_a_finished_run_writes_the_label_table_except_single(tmp_path):
    train(config(tmp_path, method="random", out=tmp_path / "r"))
    table = np.load(tmp_path / "r" / AUX_LABELS)
    assert np.all(table["confidence"] == 1.0)
    train(config(tmp_path, method="single", out=tmp_path / "s"))
    assert not (tmp_path / "s" / AUX_LABELS).exists()
