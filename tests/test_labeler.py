"""maxl.MetaLabeler in a hand-written PyTorch loop: the same generator, bit for bit, as
`maxl train --schedule batches` on the same data and seed; and its errors."""

from __future__ import annotations

import pytest
import torch

import maxl
from maxl.assembly import train
from maxl.assembly.datasets import load_dataset
from maxl.config import TrainConfig
from maxl.data.batches import channel_stats, to_float
from maxl.hierarchy import Hierarchy
from maxl.models import LabelGenerator, MultiTaskNet
from maxl.models.small_cnn import SmallCNN
from maxl.task import resolve_task

SEED, LR, GEN_LR, BATCH = 3, 0.05, 0.1, 50


def test_a_hand_written_loop_trains_the_generator_that_maxl_train_trains(tmp_path):
    config = TrainConfig(
        dataset="digits", method="maxl", schedule="batches", psi=(2,), train_size=200,
        batch_size=BATCH, epochs=1, augment=False, analysis_size=0, lr=LR, gen_lr=GEN_LR,
        seed=SEED, device="cpu", progress=False, out=tmp_path / "run",
    )  # fmt: skip
    train(config)
    expected = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)

    task = resolve_task(load_dataset("digits"), None, 200, SEED)  # the same training subset
    images, labels = task.x_train, task.y_train
    hierarchy = Hierarchy([2] * task.num_primary)
    torch.manual_seed(SEED)  # built in the order maxl train builds them
    trunk = SmallCNN(1)
    net = MultiTaskNet(trunk, trunk.feature_dim, hierarchy.num_primary, hierarchy.num_aux)
    generator = LabelGenerator(SmallCNN(1), trunk.feature_dim, hierarchy)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR)
    gen_optimizer = torch.optim.SGD(generator.parameters(), lr=GEN_LR, weight_decay=5e-4)
    labeler = maxl.MetaLabeler(generator, gen_optimizer, hypergrad="exact", entropy_weight=0.2)
    mean, std = channel_stats(images)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SEED))
    for rows in order.split(BATCH):
        x, y = to_float(images[rows], mean, std), labels[rows]
        targets = labeler.targets(x, y)
        primary_logits, aux_logits = net(x)
        loss = maxl.focal_loss(primary_logits, y) + maxl.focal_loss(aux_logits, targets)
        optimizer.zero_grad()
        loss.backward()
        labeler.step(net, x, y, lr=LR)
        optimizer.step()

    for name, value in generator.state_dict().items():
        assert torch.equal(value, expected["method"]["generator"][name]), name
    for name, value in net.state_dict().items():
        assert torch.equal(value, expected["net"][name]), name
    restored = maxl.MetaLabeler(
        LabelGenerator(SmallCNN(1), trunk.feature_dim, hierarchy),
        torch.optim.SGD(generator.parameters(), lr=GEN_LR, weight_decay=5e-4),
    )
    restored.load_state_dict(labeler.state_dict())
    assert restored.iteration == 4
    assert all(
        torch.equal(a, b)
        for a, b in zip(restored.generator.parameters(), generator.parameters(), strict=True)
    )


def small_labeler() -> tuple[maxl.MetaLabeler, torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    hierarchy = Hierarchy([2, 3])
    net = MultiTaskNet(SmallCNN(1, width=4), 16, 2, 5)
    generator = LabelGenerator(SmallCNN(1, width=4), 16, hierarchy)
    labeler = maxl.MetaLabeler(generator, torch.optim.SGD(generator.parameters(), lr=0.1))
    return labeler, net, torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1, 0])


def test_step_without_targets_or_backward_is_a_clear_error():
    labeler, net, x, y = small_labeler()
    with pytest.raises(maxl.MaxlError, match="step came without targets"):
        labeler.step(net, x, y, lr=0.01)
    labeler.targets(x, y)
    with pytest.raises(maxl.MaxlError, match=r"call loss\.backward"):
        labeler.step(net, x, y, lr=0.01)


@pytest.mark.parametrize(
    ("generator", "optimizer", "message"),
    [("g", None, "the generator as an nn.Module"), (None, "opt", "a torch optimizer")],
)
def test_bad_arguments_are_clear_errors(generator, optimizer, message):
    labeler, *_ = small_labeler()
    with pytest.raises(maxl.MaxlError, match=message):
        maxl.MetaLabeler(generator or labeler.generator, optimizer or labeler.optimizer)


def test_a_meta_depth_below_one_is_a_clear_error():
    labeler, *_ = small_labeler()
    with pytest.raises(maxl.MaxlError, match="meta_depth must be a number of blocks"):
        maxl.MetaLabeler(labeler.generator, labeler.optimizer, meta_depth=0)


@pytest.mark.parametrize("hypergrad", ["exact", "finite-difference", "implicit"])
def test_an_auxiliary_head_of_the_wrong_width_is_one_clear_error(hypergrad):
    torch.manual_seed(0)
    net = MultiTaskNet(SmallCNN(1, width=4), 16, 2, 7)  # K = 7, the generator's ψ gives 5
    generator = LabelGenerator(SmallCNN(1, width=4), 16, Hierarchy([2, 3]))
    labeler = maxl.MetaLabeler(
        generator, torch.optim.SGD(generator.parameters(), lr=0.1), hypergrad=hypergrad
    )
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1, 0])
    with pytest.raises(maxl.MaxlError, match="auxiliary head gives 7 classes but the generator's"):
        labeler.meta_step(net, x, y, lr=0.01)


def test_heads_built_for_another_feature_size_are_one_clear_error():
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1, 0])
    generator = LabelGenerator(SmallCNN(1, width=4), 99, Hierarchy([2, 3]))  # features: 16
    with pytest.raises(maxl.MaxlError, match=r"LabelGenerator: .* built for feature_dim=99"):
        generator(x, y)
    with pytest.raises(maxl.MaxlError, match=r"MultiTaskNet: .* built for feature_dim=32"):
        MultiTaskNet(SmallCNN(1, width=4), 32, 2, 5)(x)
