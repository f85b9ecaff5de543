"""CIFAR ResNet-18: 3x3 stem, no max-pool, four BasicBlock stages, global average pooling."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError
from maxl.models.backbones import GlobalAvgPool, check_images


class BasicBlock(nn.Module):
    """Two conv3x3-BN layers with a residual connection (1x1 conv+BN projection on shape change)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """The standard CIFAR ResNet-18 trunk (BasicBlock stages [2, 2, 2, 2], widths 64-512).

    Maps [N, in_channels, H, W] (any H, W >= 1; strided convs round up) to features [N, 512].
    """

    min_size: int = 1

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        if in_channels < 1:
            raise MaxlError(f"in_channels must be a positive integer, got {in_channels!r}")
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        cin = 64
        for i, cout in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layers = nn.Sequential(*stages)
        self.feature_dim: int = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return global-average-pooled features [N, 512]."""
        check_images(x, self.in_channels, self.min_size, "resnet18")
        return self.layers(self.stem(x)).mean(dim=(-2, -1))

    def blocks(self) -> list[nn.Module]:
        """The stem, then the eight residual blocks (the last with the average pooling)."""
        residual = [block for stage in self.layers for block in stage.children()]
        return [self.stem, *residual[:-1], nn.Sequential(residual[-1], GlobalAvgPool())]
