"""`random`: a fixed, uniformly random auxiliary class inside each image's primary block."""

from __future__ import annotations

import torch

from maxl.hierarchy import Hierarchy
from maxl.methods.base import AuxiliaryLabels


def random_block_labels(primary: torch.Tensor, hierarchy: Hierarchy, seed: int) -> torch.Tensor:
    """For each primary label y[n], a class drawn uniformly from hierarchy.block(y[n]).

    Drawn on the CPU from a torch.Generator seeded by `seed`, class by class, so the labels do
    not depend on the device; int64 [N] on the CPU.
    """
    hierarchy.check_labels(primary)
    primary = primary.cpu()
    generator = torch.Generator().manual_seed(seed)
    labels = torch.empty_like(primary)
    for i in range(hierarchy.num_primary):
        rows = (primary == i).nonzero().squeeze(1)
        block = hierarchy.block(i)
        offsets = torch.randint(len(block), (len(rows),), generator=generator)
        labels[rows] = block.start + offsets
    return labels


class RandomLabels(AuxiliaryLabels):
    """Auxiliary class of each training row = its random class, drawn once at construction."""

    name = "random"

    def __init__(
        self, primary: torch.Tensor, hierarchy: Hierarchy, seed: int, device: torch.device
    ) -> None:
        self.aux_classes = random_block_labels(primary, hierarchy, seed).to(device)

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.aux_classes[rows]
