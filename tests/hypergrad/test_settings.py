"""maxl.hypergrad.MetaSettings: the meta objective's settings as one object, checked once, and
taken whole by generator_hypergradient and MetaLabeler (keywords in place of its fields)."""

from __future__ import annotations

import pytest
import torch
from hypergrad_reference import PSI, central_differences, reference_meta_objective, relative_error

import maxl
from maxl.hypergrad import MetaSettings


def brute_force(net, generator, x, y, lr, lam):
    def objective():
        return reference_meta_objective(net, generator, x, y, x, y, lr, lam, PSI)

    return central_differences(generator, objective)


def test_settings_are_taken_whole_and_a_keyword_replaces_its_field(problem):
    net, generator, x, y = problem
    expected = brute_force(net, generator, x, y, lr=0.5, lam=1.0)
    whole = maxl.generator_hypergradient(
        net, generator, x, y, inner_lr=0.5, settings=MetaSettings(entropy_weight=1.0)
    )
    replaced = maxl.generator_hypergradient(
        net, generator, x, y, 0.5, 1.0, settings=MetaSettings(entropy_weight=5.0)
    )
    assert relative_error(whole, expected) <= 1e-6
    assert relative_error(replaced, expected) <= 1e-6


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hypergrad", "second-order", "unknown hypergradient method 'second-order'"),
        ("entropy_weight", -0.5, "--entropy-weight -0.5 must be a number of 0 or more"),
        ("confidence_weight", float("nan"), "--confidence-weight nan must be a number of 0"),
        ("aux_weight", "heavy", "--aux-weight heavy must be a number of 0 or more"),
        ("focal_gamma", float("inf"), "--focal-gamma inf must be a number of 0 or more"),
        ("neumann_terms", 2.0, r"neumann_terms=2\.0"),
        ("meta_depth", True, "meta_depth must be a number of blocks"),
    ],
)
def test_each_bad_setting_is_one_clear_error_wherever_it_is_given(problem, field, value, message):
    net, generator, x, y = problem
    optimizer = torch.optim.SGD(generator.parameters(), lr=0.1)
    with pytest.raises(maxl.MaxlError, match=message):
        MetaSettings(**{field: value})
    with pytest.raises(maxl.MaxlError, match=message):
        maxl.MetaLabeler(generator, optimizer, **{field: value})
    keyword = "method" if field == "hypergrad" else field
    with pytest.raises(maxl.MaxlError, match=message):
        maxl.generator_hypergradient(net, generator, x, y, **{keyword: value})


def test_weights_are_kept_as_floats():
    settings = MetaSettings(entropy_weight=1, aux_weight=2, focal_gamma=0)
    assert (settings.entropy_weight, settings.aux_weight, settings.focal_gamma) == (1.0, 2.0, 0.0)
    assert {type(settings.entropy_weight), type(settings.focal_gamma)} == {float}
