"""`single`: the primary task alone, no auxiliary loss."""

from __future__ import annotations

import torch

from maxl.methods.base import AuxiliaryLabels


class SingleTask(AuxiliaryLabels):
    name = "single"

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> None:
        return None
