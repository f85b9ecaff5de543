"""Backbone registry: feature extractors mapping images [N, C, H, W] to features [N, D].

Task heads live elsewhere; every backbone exposes ``feature_dim`` (D) so heads can be sized.
"""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError

BACKBONE_NAMES: tuple[str, ...] = ("small-cnn", "vgg16", "resnet18", "mlp")


def check_images(x: torch.Tensor, in_channels: int, min_size: int, name: str) -> None:
    """Raise MaxlError when ``x`` is not a batch of ``in_channels``-channel images >= min_size.

    Only the last three dimensions are inspected, so this also works under ``torch.func.vmap``.
    """
    if x.dim() < 3:
        raise MaxlError(
            f"{name} expects images shaped [N, C, H, W], got a tensor of shape {tuple(x.shape)}"
        )
    c, h, w = x.shape[-3:]
    if c != in_channels:
        raise MaxlError(
            f"{name} was built for {in_channels}-channel images but got {c} channels "
            f"(input shape {tuple(x.shape)}); build it with in_channels={c}"
        )
    if h < min_size or w < min_size:
        raise MaxlError(
            f"{name} needs images of at least {min_size}x{min_size}, got {h}x{w}; "
            f"resize the images or choose another backbone"
        )


def build_backbone(name: str, in_channels: int) -> nn.Module:
    """Return a fresh, randomly initialised backbone called ``name`` for ``in_channels`` inputs
    (for ``mlp``: the number of input features, C·H·W for images)."""
    # Imported here: the backbone modules import check_images from this module.
    from maxl.models.mlp import MLP
    from maxl.models.resnet import ResNet18
    from maxl.models.small_cnn import SmallCNN
    from maxl.models.vgg import VGG16BN

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
