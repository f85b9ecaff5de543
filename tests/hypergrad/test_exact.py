import torch
from hypergrad_reference import (
    PSI,
    central_differences,
    reference_meta_objective,
    relative_error,
)

import maxl


def test_exact_matches_central_differences_of_the_meta_objective(problem):
    net, generator, x, y = problem
    lr, lam = 0.3, 0.2

    def objective():
        return reference_meta_objective(net, generator, x, y, x, y, lr, lam, PSI)

    expected = central_differences(generator, objective)
    got = maxl.generator_hypergradient(net, generator, x, y, inner_lr=lr, entropy_weight=lam)
    assert [g.shape for g in got] == [p.shape for p in generator.parameters()]
    assert relative_error(got, expected) <= 1e-6


def test_exact_with_a_held_out_meta_batch(problem):
    net, generator, x, y = problem
    x_meta = torch.randn(5, 1, 4, 4, dtype=torch.float64)
    y_meta = torch.tensor([1, 0, 2, 1, 1])
    lr, lam = 0.5, 1.0

    def objective():
        return reference_meta_objective(net, generator, x, y, x_meta, y_meta, lr, lam, PSI)

    expected = central_differences(generator, objective)
    got = maxl.generator_hypergradient(
        net, generator, x, y, inner_lr=lr, entropy_weight=lam, meta_batch=(x_meta, y_meta)
    )
    assert relative_error(got, expected) <= 1e-6


def test_eval_mode_networks_still_use_batch_statistics(problem):
    net, generator, x, y = problem
    in_train = maxl.generator_hypergradient(net, generator, x, y)
    net.eval()
    generator.eval()
    in_eval = maxl.generator_hypergradient(net, generator, x, y)
    assert not net.training and not generator.training
    assert relative_error(in_eval, in_train) <= 1e-12
