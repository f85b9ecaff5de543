"""The label-generation network g_φ: auxiliary label probabilities inside the primary block."""

from __future__ import annotations

import torch
from torch import nn

from maxl.hierarchy import Hierarchy, mask_softmax
from maxl.models.features import check_features


class LabelGenerator(nn.Module):
    """forward(x, y) -> [N, K] probabilities: mask softmax of a linear head over y's ψ block."""

    def __init__(self, backbone: nn.Module, feature_dim: int, hierarchy: Hierarchy) -> None:
        super().__init__()
        self.hierarchy = hierarchy
        self.backbone = backbone
        self.head = nn.Linear(feature_dim, hierarchy.num_aux)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = self.head(check_features(self.backbone(x), self.head, "LabelGenerator"))
        return mask_softmax(logits, self.hierarchy.mask(y))
