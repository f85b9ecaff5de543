"""Depth agreement where the answer is known: with only the top block trainable, every depth
sees all of θ, so the cosine and the norm ratio are 1."""

import pytest
import torch
from analysis_nets import tiny_batches, tiny_networks

from maxl.analysis.depth import depth_agreement

SETTINGS = {"inner_lr": 0.1, "aux_weight": 1.0, "focal_gamma": 2.0}


def test_frozen_lower_blocks_make_every_depth_agree_fully():
    net, generator = tiny_networks(depth=3)
    for block in net.backbone.blocks()[:-1]:
        block.requires_grad_(False)
    found = depth_agreement(net, generator, tiny_batches(2), **SETTINGS)
    assert list(found) == [1, 2]
    for agreement in found.values():
        assert agreement.cosine == pytest.approx(1.0, abs=1e-9)
        assert agreement.norm_ratio == pytest.approx(1.0, abs=1e-9)


def test_trainable_lower_blocks_change_the_meta_gradient():
    net, generator = tiny_networks(depth=3)
    found = depth_agreement(net, generator, tiny_batches(2), **SETTINGS)
    assert found[1].cosine < 1 - 1e-6


def test_a_backbone_without_blocks_is_refused():
    net, generator = tiny_networks()
    net.backbone = torch.nn.Flatten()  # declares no blocks
    with pytest.raises(ValueError, match="no blocks"):
        depth_agreement(net, generator, tiny_batches(1), **SETTINGS)
