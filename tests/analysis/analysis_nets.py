"""Tiny networks for the analysis tests: an MLP multi-task network and a generator over ψ."""

import torch

from maxl.hierarchy import Hierarchy
from maxl.models import LabelGenerator, MultiTaskNet
from maxl.models.mlp import MLP

PSI = [2, 3]


def tiny_networks(depth: int = 3) -> tuple[MultiTaskNet, LabelGenerator]:
    torch.manual_seed(0)
    net = MultiTaskNet(MLP(8, hidden=6, depth=depth), 6, len(PSI), sum(PSI)).double()
    generator = LabelGenerator(MLP(8, hidden=5, depth=1), 5, Hierarchy(PSI)).double()
    return net, generator


def tiny_batches(count: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(6, 8, generator=g, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0]))
        for _ in range(count)
    ]
