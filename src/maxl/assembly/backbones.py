"""The backbone registry: `--backbone` names to fresh, randomly initialised trunks."""

from __future__ import annotations

from maxl.errors import MaxlError
from maxl.models.mlp import MLP
from maxl.models.resnet import ResNet18
from maxl.models.small_cnn import SmallCNN
from maxl.models.vgg import VGG16BN

BACKBONE_NAMES: tuple[str, ...] = ("small-cnn", "vgg16", "resnet18", "mlp")

Backbone = SmallCNN | VGG16BN | ResNet18 | MLP  # each knows its feature_dim


def build_backbone(name: str, in_channels: int) -> Backbone:
    """Return a fresh, randomly initialised backbone called ``name`` for ``in_channels`` inputs
    (for ``mlp``: the number of input features, C·H·W for images)."""
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise MaxlError(f"in_channels must be a positive integer, got {in_channels!r}")
    if name == "small-cnn":
        return SmallCNN(in_channels)
    if name == "vgg16":
        return VGG16BN(in_channels)
    if name == "resnet18":
        return ResNet18(in_channels)
    if name == "mlp":
        return MLP(in_channels)
    raise MaxlError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONE_NAMES)}")
