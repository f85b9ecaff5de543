"""The multi-task network f_θ: any backbone with a primary head and an auxiliary head."""

from __future__ import annotations

import torch
from torch import nn

from maxl.models.features import check_features


class MultiTaskNet(nn.Module):
    """forward(x) -> (primary_logits [N, C], aux_logits [N, K]) from one shared backbone."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_primary: int, num_aux: int):
        super().__init__()
        self.backbone = backbone
        self.primary_head = nn.Linear(feature_dim, num_primary)
        self.aux_head = nn.Linear(feature_dim, num_aux)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = check_features(self.backbone(x), self.primary_head, "MultiTaskNet")
        return self.primary_head(features), self.aux_head(features)
