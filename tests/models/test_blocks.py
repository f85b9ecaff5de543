"""Every built-in backbone declares blocks(): applied in order they give forward's features,
they hold each parameter once, and split_at_depth cuts a MultiTaskNet there."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from maxl.assembly.backbones import BACKBONE_NAMES, build_backbone
from maxl.errors import MaxlError
from maxl.models import MultiTaskNet
from maxl.models.blocks import block_count, split_at_depth

# name -> (blocks, input shape); the counts are the architectures' own: the small CNN's three
# conv blocks, VGG's five stages, ResNet's stem and eight residual blocks, one per MLP layer.
EXPECTED = {
    "small-cnn": (3, (4, 3, 12, 12)),
    "vgg16": (5, (4, 3, 32, 32)),
    "resnet18": (9, (4, 3, 16, 16)),
    "mlp": (2, (4, 3, 5, 5)),
}


def backbone(name: str) -> nn.Module:
    torch.manual_seed(0)
    channels = 3 * 5 * 5 if name == "mlp" else 3
    return build_backbone(name, channels).double()


def test_every_backbone_is_covered():
    assert set(EXPECTED) == set(BACKBONE_NAMES)


@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("training", [True, False])
def test_blocks_in_order_give_the_features(name, training):
    trunk = backbone(name).train(training)
    count, shape = EXPECTED[name]
    x = torch.randn(*shape, dtype=torch.float64)
    blocks = trunk.blocks()
    assert len(blocks) == count == block_count(trunk)
    h = x
    for block in blocks:
        h = block(h)
    torch.testing.assert_close(h, trunk(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_blocks_hold_every_parameter_once(name):
    trunk = backbone(name)
    in_blocks = [id(p) for block in trunk.blocks() for p in block.parameters()]
    assert sorted(in_blocks) == sorted(id(p) for p in trunk.parameters())
    assert len(set(in_blocks)) == len(in_blocks)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_split_shares_the_net_and_composes_to_its_forward(depth):
    trunk = backbone("small-cnn")
    net = MultiTaskNet(trunk, trunk.feature_dim, 3, 7).double()
    split = split_at_depth(net, depth)
    assert split is not None
    x = torch.randn(4, 3, 12, 12, dtype=torch.float64)
    for got, expected in zip(split.upper(split.lower(x)), net(x), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    upper = {id(p) for p in split.upper.parameters()}
    lower = {id(p) for p in split.lower.parameters()}
    assert upper | lower == {id(p) for p in net.parameters()} and not upper & lower
    heads = [*net.primary_head.parameters(), *net.aux_head.parameters()]
    assert all(id(p) in upper for p in heads)
    # each block below: conv weight, BatchNorm weight and bias
    assert len(list(split.lower.parameters())) == (3 - depth) * 3


def test_no_depth_or_no_blocks_means_the_whole_network():
    trunk = backbone("small-cnn")
    net = MultiTaskNet(trunk, trunk.feature_dim, 3, 7)
    assert split_at_depth(net, None) is None
    plain = MultiTaskNet(nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), 5, 3, 7)
    assert split_at_depth(plain, 1) is None and block_count(plain.backbone) is None


def test_too_deep_names_the_blocks():
    trunk = backbone("vgg16")
    net = MultiTaskNet(trunk, trunk.feature_dim, 3, 7)
    with pytest.raises(MaxlError, match="more than the 5 blocks of the backbone VGG16BN"):
        split_at_depth(net, 6)


class Transformerish(nn.Module):
    """A backbone with a submodule named `blocks` (as many vision transformers have)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def test_a_submodule_called_blocks_is_no_declaration():
    net = MultiTaskNet(Transformerish(), 5, 3, 7)
    assert block_count(net.backbone) is None
    assert split_at_depth(net, 1) is None


class LeavesOneOut(nn.Module):
    """blocks() that forget the backbone's last layer."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(12, 6)
        self.last = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.first(x.flatten(1)))

    def blocks(self) -> list[nn.Module]:
        return [nn.Sequential(nn.Flatten(), self.first)]


def test_blocks_that_miss_a_parameter_are_a_clear_error():
    net = MultiTaskNet(LeavesOneOut(), 5, 3, 7)
    with pytest.raises(MaxlError, match=r"LeavesOneOut.blocks\(\) must hold each"):
        split_at_depth(net, 1)
