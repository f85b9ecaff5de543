"""What the backbones share: every one maps inputs to features [N, D], exposes ``feature_dim``
(D) so heads can be sized, and checks its inputs with `check_images`. (Names become backbones
in maxl.assembly.backbones.)"""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError


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


class GlobalAvgPool(nn.Module):
    """[N, C, H, W] -> [N, C]: the mean over the spatial map, as the backbones end."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(-2, -1))
