"""meta_depth=K: the hypergradient through the top K blocks of the trunk and the heads only,
checked against central differences of L_meta whose SGD step moves only those parameters, and
against the full hypergradient of the same network with its lower blocks frozen."""

from __future__ import annotations

import copy

import pytest
import torch
from hypergrad_reference import (
    PSI,
    TinyGenerator,
    TinyNet,
    central_differences,
    reference_meta_objective,
    relative_error,
)

import maxl
from maxl.hypergrad import HYPERGRADIENT_METHODS
from maxl.models import MultiTaskNet
from maxl.models.small_cnn import SmallCNN

# SmallCNN's blocks: features 0-3 (conv, bn, relu, pool), 4-7, 8-10 (+ pooling); written out
# here rather than read from blocks(), so that the tests do not trust what they check.
TOP_BLOCK = ("backbone.features.8.", "backbone.features.9.")
SECOND_BLOCK = ("backbone.features.4.", "backbone.features.5.")
HEADS = ("primary_head.", "aux_head.")


def in_top(depth: int):
    prefixes = HEADS + TOP_BLOCK + (SECOND_BLOCK if depth >= 2 else ())
    return lambda name: name.startswith(prefixes)


@pytest.fixture
def deep_problem():
    """A three-block CNN with BatchNorm under two heads, float64, a non-uniform ψ."""
    torch.manual_seed(0)
    trunk = SmallCNN(1, width=2)
    net = MultiTaskNet(trunk, trunk.feature_dim, len(PSI), sum(PSI)).double()
    generator = TinyGenerator(PSI).double()
    x = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 0, 2, 2, 0])
    return net, generator, x, y


def frozen_below(net: torch.nn.Module, depth: int) -> torch.nn.Module:
    """A copy of `net` whose parameters outside the top `depth` blocks and heads are frozen."""
    frozen = copy.deepcopy(net)
    for name, p in frozen.named_parameters():
        p.requires_grad_(in_top(depth)(name))
    return frozen


@pytest.mark.parametrize("held_out", [False, True])
def test_depth_1_matches_central_differences_with_only_the_top_block_stepped(
    deep_problem, held_out
):
    net, generator, x, y = deep_problem
    x_meta, y_meta = (x, y)
    if held_out:
        x_meta = torch.randn(5, 1, 4, 4, dtype=torch.float64)
        y_meta = torch.tensor([1, 0, 2, 1, 1])
    lr, lam = 0.4, 0.3

    def objective():
        return reference_meta_objective(
            net, generator, x, y, x_meta, y_meta, lr, lam, PSI, stepped=in_top(1)
        )

    expected = central_differences(generator, objective)
    got = maxl.generator_hypergradient(
        net,
        generator,
        x,
        y,
        inner_lr=lr,
        entropy_weight=lam,
        meta_batch=(x_meta, y_meta) if held_out else None,
        meta_depth=1,
    )
    assert relative_error(got, expected) <= 1e-6
    full = maxl.generator_hypergradient(net, generator, x, y, inner_lr=lr, entropy_weight=lam)
    if not held_out:
        assert relative_error(full, got) > 1e-3  # the depth changes the gradient


@pytest.mark.parametrize("method", sorted(HYPERGRADIENT_METHODS))
@pytest.mark.parametrize("depth", [1, 2])
def test_depth_k_is_the_hypergradient_of_the_net_with_lower_blocks_frozen(
    deep_problem, method, depth
):
    net, generator, x, y = deep_problem
    settings = {"inner_lr": 0.3, "entropy_weight": 0.2, "method": method, "neumann_terms": 2}
    expected = maxl.generator_hypergradient(frozen_below(net, depth), generator, x, y, **settings)
    got = maxl.generator_hypergradient(net, generator, x, y, meta_depth=depth, **settings)
    assert relative_error(got, expected) <= 1e-10


@pytest.mark.parametrize("method", sorted(HYPERGRADIENT_METHODS))
def test_all_blocks_is_the_full_hypergradient(deep_problem, method):
    net, generator, x, y = deep_problem
    expected = maxl.generator_hypergradient(net, generator, x, y, method=method)
    got = maxl.generator_hypergradient(net, generator, x, y, method=method, meta_depth=3)
    assert relative_error(got, expected) <= 1e-12


def test_running_statistics_and_grads_are_untouched(deep_problem):
    net, generator, x, y = deep_problem
    net.eval()
    before = {name: b.clone() for name, b in net.named_buffers()}
    maxl.generator_hypergradient(net, generator, x, y, meta_depth=1)
    for name, buffer in net.named_buffers():
        assert torch.equal(buffer, before[name]), name
    assert all(p.grad is None for p in net.parameters())
    assert not net.training


@pytest.mark.parametrize("depth", [0, 4])
def test_a_depth_outside_the_blocks_is_a_clear_error(deep_problem, depth):
    net, generator, x, y = deep_problem
    with pytest.raises(maxl.MaxlError, match="depth"):
        maxl.generator_hypergradient(net, generator, x, y, meta_depth=depth)


def test_a_network_without_blocks_is_differentiated_whole():
    torch.manual_seed(0)
    net = TinyNet(len(PSI), sum(PSI)).double()
    generator = TinyGenerator(PSI).double()
    x = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 0, 2, 2, 0])
    expected = maxl.generator_hypergradient(net, generator, x, y)
    with pytest.warns(UserWarning, match="TinyNet is not a maxl MultiTaskNet"):
        got = maxl.generator_hypergradient(net, generator, x, y, meta_depth=1)
    assert relative_error(got, expected) == 0
