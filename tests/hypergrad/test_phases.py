"""The real meta-gradient marks its phases for a listener, and a listener changes nothing."""

from contextlib import nullcontext

import torch

from maxl.hierarchy import Hierarchy
from maxl.hypergrad import generator_hypergradient
from maxl.models import LabelGenerator, MultiTaskNet
from maxl.models.mlp import MLP
from maxl.phases import listening


def regions(call) -> tuple[list[str], list[torch.Tensor]]:
    """The names of the regions `call` enters, in order, and what it returns."""
    entered: list[str] = []

    def listener(name: str) -> nullcontext:
        entered.append(name)
        return nullcontext()

    with listening(listener):
        result = call()
    return entered, result


def test_each_method_enters_direction_sensitivity_and_backward(problem):
    net, generator, x, y = problem
    for method in ("exact", "finite-difference", "implicit"):
        entered, grads = regions(
            lambda m=method: generator_hypergradient(net, generator, x, y, method=m)
        )
        assert entered == ["direction", "label sensitivity", "generator backward"]
        unheard = generator_hypergradient(net, generator, x, y, method=method)
        for a, b in zip(grads, unheard, strict=True):
            assert torch.equal(a, b)


def test_a_meta_depth_adds_the_features_below_the_top_blocks():
    torch.manual_seed(0)
    net = MultiTaskNet(MLP(4, hidden=5, depth=2), 5, 2, 4)
    generator = LabelGenerator(MLP(4, hidden=3, depth=1), 3, Hierarchy([2, 2]))
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 0, 1, 1, 0])
    entered, _ = regions(lambda: generator_hypergradient(net, generator, x, y, meta_depth=1))
    assert entered == [
        "features below the top blocks", "direction", "label sensitivity", "generator backward"
    ]  # fmt: skip
