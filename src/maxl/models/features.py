"""The one check a head needs of its backbone: features [N, D] with the D it was built for."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError


def check_features(features: torch.Tensor, head: nn.Linear, owner: str) -> torch.Tensor:
    """`features` unchanged when they are [N, head.in_features]; else one clear error."""
    if features.dim() != 2 or features.shape[1] != head.in_features:
        raise MaxlError(
            f"{owner}: the backbone gives features of shape {tuple(features.shape)} but the "
            f"heads were built for feature_dim={head.in_features}; pass the backbone's output "
            "size as feature_dim (one forward tells it)"
        )
    return features
