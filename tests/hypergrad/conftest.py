"""Fixtures for the hypergradient tests."""

import pytest
import torch
from hypergrad_reference import PSI, TinyGenerator, TinyNet


@pytest.fixture
def problem():
    """A non-uniform ψ, BatchNorm in both networks, float64, a batch where class 1 is absent."""
    torch.manual_seed(0)
    net = TinyNet(len(PSI), sum(PSI)).double()
    generator = TinyGenerator(PSI).double()
    x = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 0, 2, 2, 0])
    return net, generator, x, y
