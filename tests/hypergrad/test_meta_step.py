"""maxl.MetaLabeler.meta_step (the paper's generator step) against the brute-force L_meta in
float64: one SGD step of the generator along its central differences."""

from __future__ import annotations

import pytest
import torch
from hypergrad_reference import PSI, central_differences, reference_meta_objective, relative_error

import maxl

INNER_LR, GEN_LR, LAM = 0.3, 0.1, 0.2


def stepped_gradient(labeler: maxl.MetaLabeler, net, x, y, **kwargs) -> list[torch.Tensor]:
    """The gradient that one meta_step followed: (φ_before − φ_after) / the SGD step size."""
    before = [p.detach().clone() for p in labeler.generator.parameters()]
    labeler.meta_step(net, x, y, lr=INNER_LR, **kwargs)
    after = labeler.generator.parameters()
    return [(old - new.detach()) / GEN_LR for old, new in zip(before, after, strict=True)]


def brute_force(net, generator, x, y) -> list[torch.Tensor]:
    def objective():
        return reference_meta_objective(net, generator, x, y, x, y, INNER_LR, LAM, PSI)

    return central_differences(generator, objective)


def test_the_paper_step_is_sgd_on_the_meta_gradient(problem):
    net, generator, x, y = problem
    expected = brute_force(net, generator, x, y)
    labeler = maxl.MetaLabeler(generator, torch.optim.SGD(generator.parameters(), lr=GEN_LR))
    assert relative_error(stepped_gradient(labeler, net, x, y), expected) <= 1e-6


def test_meta_depth_on_a_network_without_blocks_warns_and_uses_all_of_it(problem):
    net, generator, x, y = problem
    expected = brute_force(net, generator, x, y)
    optimizer = torch.optim.SGD(generator.parameters(), lr=GEN_LR)
    deep = maxl.MetaLabeler(generator, optimizer, meta_depth=1)
    with pytest.warns(UserWarning, match="runs through all of it"):
        got = stepped_gradient(deep, net, x, y)
    assert relative_error(got, expected) <= 1e-6
