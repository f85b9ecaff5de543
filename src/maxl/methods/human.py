"""`human`: the dataset's finer human labels as auxiliary classes."""

from __future__ import annotations

import torch

from maxl.methods.base import AuxiliaryLabels


class HumanLabels(AuxiliaryLabels):
    """Auxiliary class of each training row = its finer label, in ψ's block layout."""

    name = "human"

    def __init__(self, aux_classes: torch.Tensor) -> None:
        self.aux_classes = aux_classes

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.aux_classes[rows]
