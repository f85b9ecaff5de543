"""The per-image confidence term λ_c·C(φ) of L_meta (DESIGN §1), against central differences of
a hand-written objective in float64, for every hypergradient method."""

import copy

import pytest
import torch
from hypergrad_reference import (
    PSI,
    central_differences,
    reference_confidence,
    reference_meta_objective,
    relative_error,
)

import maxl
from maxl.losses import label_entropy


def test_label_entropy_by_hand():
    labels = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.0, 0.25, 0.75]])
    by_hand = (torch.log(torch.tensor(2.0)) + 0.0 - (0.25 * torch.log(torch.tensor(0.25))
               + 0.75 * torch.log(torch.tensor(0.75)))) / 3  # fmt: skip
    assert torch.allclose(label_entropy(labels), by_hand)


def test_exact_with_the_confidence_term_matches_central_differences(problem):
    net, generator, x, y = problem
    lr, lam, lam_c = 0.3, 0.2, 0.7

    def objective():
        return reference_meta_objective(net, generator, x, y, x, y, lr, lam, PSI, confidence=lam_c)

    expected = central_differences(generator, objective)
    got = maxl.generator_hypergradient(
        net, generator, x, y, inner_lr=lr, entropy_weight=lam, confidence_weight=lam_c
    )
    assert relative_error(got, expected) <= 1e-6


@pytest.mark.parametrize("method", ["exact", "finite-difference", "implicit"])
def test_every_method_adds_the_exact_gradient_of_the_term(problem, method):
    net, generator, x, y = problem
    lam_c = 1.3

    def confidence():
        labels = copy.deepcopy(generator).train()(x, y)
        return lam_c * reference_confidence(labels)

    expected = central_differences(generator, confidence)
    kwargs = dict(inner_lr=0.1, entropy_weight=0.2, method=method)
    without = maxl.generator_hypergradient(net, generator, x, y, **kwargs)
    with_term = maxl.generator_hypergradient(
        net, generator, x, y, confidence_weight=lam_c, **kwargs
    )
    added = [a - b for a, b in zip(with_term, without, strict=True)]
    assert relative_error(added, expected) <= 1e-6
