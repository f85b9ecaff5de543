"""A multilayer perceptron backbone for feature vectors (tabular data, embeddings)."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError


class MLP(nn.Module):
    """Linear-BatchNorm-ReLU blocks mapping [N, in_features] (or images, flattened) to
    features [N, hidden]."""

    def __init__(self, in_features: int, hidden: int = 256, depth: int = 2) -> None:
        super().__init__()
        if in_features < 1 or hidden < 1 or depth < 1:
            raise MaxlError(
                f"the mlp needs in_features, hidden and depth >= 1, got {in_features}, "
                f"{hidden}, {depth}"
            )
        self.in_features = in_features
        self.feature_dim: int = hidden
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(in_features if i == 0 else hidden, hidden), nn.BatchNorm1d(hidden)]
            layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise MaxlError(
                f"the mlp was built for {self.in_features} input features but got "
                f"{x.shape[1]} (input shape {tuple(x.shape)}); build it for this data"
            )
        return self.layers(x)

    def blocks(self) -> list[nn.Module]:
        """One Linear-BatchNorm-ReLU block per layer (the first also flattens its input)."""
        layers = self.layers
        first = nn.Sequential(nn.Flatten(), *list(layers)[0:3])
        return [first, *(layers[i : i + 3] for i in range(3, len(layers), 3))]
