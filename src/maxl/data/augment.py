"""Batched, on-device augmentation: random crop with zero padding and random horizontal flip."""

from __future__ import annotations

import torch

from maxl.errors import MaxlError


def augment_batch(
    x: torch.Tensor,
    *,
    pad: int,
    flip: bool,
    generator: torch.Generator,
    batch_size: int | None = None,
    part: slice = slice(None),
) -> torch.Tensor:
    """Crop each image of a float [N, C, H, W] batch at its own random offset from the image
    zero-padded by `pad`, and flip each with p=0.5 if `flip`; one gather, no per-image loop.

    x may be the `part` of a batch of `batch_size` images (a rank's share of a global batch):
    the draws are the whole batch's, so the share is augmented as in one process."""
    if pad < 0:
        raise MaxlError(f"augmentation padding must be >= 0, got {pad}; use 0 to turn crops off")
    if x.dim() != 4:
        raise MaxlError(f"augment_batch needs an [N, C, H, W] batch, got shape {tuple(x.shape)}")
    if pad == 0 and not flip:
        return x
    n, c, h, w = x.shape
    drawn = n if batch_size is None else batch_size
    device = x.device
    rows = torch.arange(h, device=device).expand(n, h)
    cols = torch.arange(w, device=device).expand(n, w)
    if pad > 0:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (2, drawn, 1), generator=generator, device=device)
        rows = rows + offsets[0, part]
        cols = cols + offsets[1, part]
    if flip:
        flipped = torch.rand(drawn, 1, generator=generator, device=device)[part] < 0.5
        cols = torch.where(flipped, cols.flip(1), cols)
    batch = torch.arange(n, device=device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=device).view(1, c, 1, 1)
    return x[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]
