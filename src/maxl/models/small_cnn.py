"""A small three-block CNN: the CPU default backbone (seconds per epoch on MNIST-sized data)."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError
from maxl.models.backbones import GlobalAvgPool, check_images


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    # No conv bias: the BatchNorm shift that follows makes it redundant.
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class SmallCNN(nn.Module):
    """Three conv3x3-BN-ReLU blocks (widths w, 2w, 4w; 2x2 max-pool after the first two) + GAP.

    Maps [N, in_channels, H, W] with H, W >= 4 to features [N, 4 * width].
    """

    min_size: int = 4

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        if in_channels < 1:
            raise MaxlError(f"in_channels must be a positive integer, got {in_channels!r}")
        if width < 1:
            raise MaxlError(f"width must be a positive integer, got {width!r}")
        self.in_channels = in_channels
        self.feature_dim: int = 4 * width
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, width),
            nn.MaxPool2d(2),
            *_conv_bn_relu(width, 2 * width),
            nn.MaxPool2d(2),
            *_conv_bn_relu(2 * width, 4 * width),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return global-average-pooled features [N, feature_dim]."""
        check_images(x, self.in_channels, self.min_size, "small-cnn")
        return self.features(x).mean(dim=(-2, -1))

    def blocks(self) -> list[nn.Module]:
        """The three conv blocks: the first two end in their max-pool, the last in the average
        pooling."""
        f = self.features
        return [f[0:4], f[4:8], nn.Sequential(*list(f)[8:], GlobalAvgPool())]
