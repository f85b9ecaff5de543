"""Properties every hypergradient method must have, whatever it computes inside."""

import pytest
import torch

import maxl
from maxl.hypergrad import HYPERGRADIENT_METHODS


@pytest.fixture(params=sorted(HYPERGRADIENT_METHODS))
def method(request):
    return request.param


def test_running_statistics_and_grads_are_untouched(problem, method):
    net, generator, x, y = problem
    net.eval()  # eval mode must not matter either
    buffers = {
        name: b.clone()
        for module in (net, generator)
        for name, b in module.named_buffers(prefix=type(module).__name__)
    }
    maxl.generator_hypergradient(net, generator, x, y, method=method)
    after = {
        name: b
        for module in (net, generator)
        for name, b in module.named_buffers(prefix=type(module).__name__)
    }
    for name, before in buffers.items():
        assert torch.equal(after[name], before), name
    assert all(p.grad is None for p in [*net.parameters(), *generator.parameters()])
    assert not net.training and generator.training


def test_frozen_generator_parameters_get_zeros(problem, method):
    net, generator, x, y = problem
    generator.features.weight.requires_grad_(False)
    grads = maxl.generator_hypergradient(net, generator, x, y, method=method)
    frozen_index = [p is generator.features.weight for p in generator.parameters()].index(True)
    assert torch.count_nonzero(grads[frozen_index]) == 0
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_absent_primary_class_gives_finite_gradients(problem, method):
    net, generator, x, y = problem
    y = torch.zeros_like(y)  # classes 1 and 2 are absent: their auxiliary classes have ȳ = 0
    grads = maxl.generator_hypergradient(net, generator, x, y, entropy_weight=1.0, method=method)
    assert all(torch.isfinite(g).all() for g in grads)


def test_unknown_method_is_a_clear_error(problem):
    net, generator, x, y = problem
    with pytest.raises(maxl.MaxlError, match="exact, finite-difference"):
        maxl.generator_hypergradient(net, generator, x, y, method="second-order")
