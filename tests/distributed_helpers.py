"""Work for the processes that tests/test_distributed.py spawns: each rank holds a shard of one
global batch and checks the data-parallel pieces against one process on the whole batch.

(A uniquely named module, so that spawned processes can import these functions by name.)
"""

from __future__ import annotations

import copy

import torch
import torch.autograd.forward_ad as fwad
import torch.distributed as dist
from torch.testing import assert_close

from maxl.distributed import Ranks
from maxl.global_batch_norm import GlobalBatchNorm, to_global_batch_norm
from maxl.hierarchy import Hierarchy
from maxl.hypergrad import (
    HYPERGRADIENT_METHODS,
    MetaSettings,
    generator_hypergradient,
    hypergradient_of,
    meta_gradient,
    meta_problem,
)
from maxl.hypergrad.common import batch_statistics, generated_labels
from maxl.models import LabelGenerator, MultiTaskNet
from maxl.models.small_cnn import SmallCNN

GLOBAL_BATCH = 8


def check_against_one_process(rank: int, world_size: int, store: str) -> None:
    """Entry point of one spawned rank (torch.multiprocessing.spawn passes the rank first)."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    try:
        ranks = Ranks(rank, world_size)
        check_global_batch_norm(ranks)
        for method in HYPERGRADIENT_METHODS:
            for meta_depth in (None, 1):
                check_hypergradient(ranks, method, meta_depth)
    finally:
        dist.destroy_process_group()


def check_global_batch_norm(ranks: Ranks) -> None:
    """Output, input and parameter gradients, running statistics and the forward-mode tangent
    of a shard equal plain BatchNorm's on the whole batch."""
    torch.manual_seed(0)
    x = torch.randn(GLOBAL_BATCH, 3, 5, 5, dtype=torch.float64)
    tangent, weights = torch.randn_like(x), torch.randn_like(x)
    reference = torch.nn.BatchNorm2d(3).double()
    torch.nn.init.uniform_(reference.weight)
    torch.nn.init.uniform_(reference.bias)
    norm = to_global_batch_norm(copy.deepcopy(reference))
    assert isinstance(norm, GlobalBatchNorm)
    shard = ranks.shard(GLOBAL_BATCH)

    x_all = x.clone().requires_grad_()
    expected = reference(x_all)
    (expected * weights).sum().backward()
    x_mine = x[shard].clone().requires_grad_()
    out = norm(x_mine)
    (out * weights[shard]).sum().backward()

    assert_close(out, expected[shard].detach())
    assert_close(x_mine.grad, x_all.grad[shard])
    grads = [norm.weight.grad, norm.bias.grad]
    ranks.sum_(grads)  # what each rank contributes adds up to the whole batch's gradient
    assert_close(grads, [reference.weight.grad, reference.bias.grad])
    assert_close(norm.running_mean, reference.running_mean)
    assert_close(norm.running_var, reference.running_var)  # unbiased, as nn.BatchNorm keeps it

    with torch.no_grad(), fwad.dual_level():
        mine = fwad.unpack_dual(norm(fwad.make_dual(x[shard], tangent[shard]))).tangent
        whole = fwad.unpack_dual(reference(fwad.make_dual(x, tangent))).tangent
    assert_close(mine, whole[shard])


def check_hypergradient(ranks: Ranks, method: str, meta_depth: int | None) -> None:
    """The generator's hypergradient from the shards, reduced across ranks, equals the one of
    the whole batch in one process (BatchNorm in both networks, float64), also through the top
    block only (the features below it normalised over the global batch)."""
    torch.manual_seed(0)
    hierarchy = Hierarchy([2, 1, 3])
    net = MultiTaskNet(SmallCNN(1, width=4), 16, hierarchy.num_primary, hierarchy.num_aux)
    generator = LabelGenerator(SmallCNN(1, width=4), 16, hierarchy)
    net, generator = net.double(), generator.double()
    x = torch.randn(GLOBAL_BATCH, 1, 8, 8, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 2, 2, 1, 0])
    weights = {"entropy_weight": 0.2, "aux_weight": 1.5, "focal_gamma": 2.0}
    expected = generator_hypergradient(
        net, generator, x, y, inner_lr=0.3, method=method, meta_depth=meta_depth, **weights
    )
    settings = MetaSettings(hypergrad=method, neumann_terms=3, meta_depth=meta_depth, **weights)

    net, generator = to_global_batch_norm(net), to_global_batch_norm(generator)
    shard = ranks.shard(GLOBAL_BATCH)
    problem = meta_problem(
        net,
        generator,
        x[shard],
        y[shard],
        None,
        inner_lr=0.3,
        settings=settings,
        ranks=ranks,
    )
    with batch_statistics(net, generator):
        labels = generated_labels(generator, x[shard], y[shard])
        theta = problem.trainable_net_params()
        train_grad = problem.train_gradient(theta, labels)
        got = meta_gradient(problem, labels, theta, train_grad, hypergradient_of(method))
    assert_close(got, expected, rtol=1e-9, atol=1e-12)
