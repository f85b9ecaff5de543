import pytest
import torch
from hypergrad_reference import relative_error

import maxl


@pytest.mark.parametrize("lam", [0.0, 0.2, 1.0])
def test_finite_difference_agrees_with_exact(problem, lam):
    net, generator, x, y = problem
    exact = maxl.generator_hypergradient(net, generator, x, y, inner_lr=0.1, entropy_weight=lam)
    first_order = maxl.generator_hypergradient(
        net, generator, x, y, inner_lr=0.1, entropy_weight=lam, method="finite-difference"
    )
    assert relative_error(first_order, exact) <= 1e-2


def test_entropy_term_is_not_dropped(problem):
    """The original first-order script forgot λ∇H; with a zero step size only λ∇H is left."""
    net, generator, x, y = problem
    got = maxl.generator_hypergradient(
        net, generator, x, y, inner_lr=0.0, entropy_weight=1.0, method="finite-difference"
    )
    labels = generator.train()(x, y)
    mean = labels.mean(dim=0)
    negentropy = (mean[mean > 0] * mean[mean > 0].log()).sum()
    expected = torch.autograd.grad(negentropy, list(generator.parameters()), allow_unused=True)
    expected = [
        torch.zeros_like(p) if e is None else e
        for p, e in zip(generator.parameters(), expected, strict=True)
    ]
    assert relative_error(got, expected) <= 1e-12
