"""The two parts of the generator's gradient, against autograd of λH directly."""

import pytest
import torch
from analysis_nets import tiny_batches, tiny_networks

from maxl.analysis.balance import gradient_balance
from maxl.hypergrad.common import batch_statistics
from maxl.losses import entropy_regulariser

SETTINGS = {"inner_lr": 0.1, "aux_weight": 1.0, "focal_gamma": 2.0}


def entropy_gradient_norm(generator, x, y, weight: float) -> float:
    """|λ∇_φ H| by autograd of the entropy regulariser of the batch's labels."""
    with batch_statistics(generator):
        labels = generator(x, y)
    grads = torch.autograd.grad(weight * entropy_regulariser(labels), generator.parameters())
    return float(torch.cat([g.reshape(-1) for g in grads]).norm())


def test_without_the_auxiliary_loss_only_the_entropy_part_is_left():
    net, generator = tiny_networks()
    [(x, y)] = tiny_batches(1)
    expected = entropy_gradient_norm(generator, x, y, 0.2)
    found = gradient_balance(
        net, generator, [(x, y)], **{**SETTINGS, "aux_weight": 0.0}, entropy_weight=0.2
    )
    assert found.meta_norm == 0.0 and found.cosine == 0.0
    assert found.entropy_norm == pytest.approx(expected, rel=1e-9)


def test_the_entropy_part_scales_with_its_weight_and_the_meta_part_does_not():
    net, generator = tiny_networks()
    batches = tiny_batches(3)
    light = gradient_balance(net, generator, batches, **SETTINGS, entropy_weight=0.2)
    heavy = gradient_balance(net, generator, batches, **SETTINGS, entropy_weight=0.6)
    assert light.meta_norm > 0 and heavy.meta_norm == light.meta_norm
    assert heavy.entropy_norm == pytest.approx(3 * light.entropy_norm, rel=1e-9)
    assert heavy.cosine == pytest.approx(light.cosine, abs=1e-9)
