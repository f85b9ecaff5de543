"""CIFAR VGG-16 with BatchNorm, as in the original MAXL code, ending in global average pooling."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError
from maxl.models.backbones import GlobalAvgPool, check_images

# Channel widths of the 13 conv3x3 layers; "M" is a 2x2 max-pool.
VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


class VGG16BN(nn.Module):
    """13 conv3x3(+bias)-BN-ReLU layers with 5 max-pools, then average pooling to 1x1.

    Maps [N, in_channels, H, W] with H, W >= 32 to features [N, 512].
    """

    min_size: int = 32

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        if in_channels < 1:
            raise MaxlError(f"in_channels must be a positive integer, got {in_channels!r}")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        cin = in_channels
        for v in VGG16_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                assert isinstance(v, int)
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.feature_dim: int = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                assert m.bias is not None  # the convs above keep their bias
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return features [N, 512], averaged over whatever spatial map remains (1x1 for 32x32)."""
        check_images(x, self.in_channels, self.min_size, "vgg16")
        return self.features(x).mean(dim=(-2, -1))

    def blocks(self) -> list[nn.Module]:
        """The five conv stages, each ending in its max-pool (the last also in the average
        pooling): block1 to block5 as VGG's authors name them."""
        stages: list[nn.Module] = []
        start = last = 0
        for i, layer in enumerate(self.features):
            if isinstance(layer, nn.MaxPool2d):
                stages.append(self.features[start : i + 1])
                last, start = start, i + 1
        stages[-1] = nn.Sequential(*list(self.features)[last:], GlobalAvgPool())
        return stages
