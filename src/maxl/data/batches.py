"""Mini-batches over in-memory tensors: index batches, uint8 -> normalised float, channel stats."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from maxl.errors import MaxlError


def batch_indices(
    num_items: int,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> list[torch.Tensor]:
    """Split range(num_items) (a random permutation if `shuffle`) into int64 index batches.

    Shuffled indices live on the generator's device (CPU when there is none).
    """
    if batch_size < 1 or num_items < 0:
        raise MaxlError(
            f"batch size must be >= 1 and item count >= 0 (got {batch_size}, {num_items}); "
            "pass a positive --batch-size"
        )
    device = generator.device if generator is not None else torch.device("cpu")
    if shuffle:
        order = torch.randperm(num_items, generator=generator, device=device)
    else:
        order = torch.arange(num_items, device=device)
    batches = list(torch.split(order, batch_size)) if num_items else []
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def to_float(x_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x / 255 - mean) / std as float32, with per-channel mean and std of shape [C]; float
    images [N, C, H, W] (kept as given) are (x - mean) / std with their own per-channel stats;
    float feature vectors [N, D] are standardised per feature, (x - mean) / std with [D]."""
    if x_uint8.dim() == 2 and x_uint8.is_floating_point():
        return (x_uint8.float() - mean.to(x_uint8.device)) / std.to(x_uint8.device)
    if x_uint8.dim() == 4 and x_uint8.dtype == torch.float32:
        c = x_uint8.shape[1]
        mean = mean.to(x_uint8.device, torch.float32).view(1, c, 1, 1)
        std = std.to(x_uint8.device, torch.float32).view(1, c, 1, 1)
        return (x_uint8 - mean) / std
    if x_uint8.dtype != torch.uint8 or x_uint8.dim() != 4:
        raise MaxlError(f"to_float needs uint8 [N, C, H, W], got {x_uint8.dtype} {x_uint8.shape}")
    c = x_uint8.shape[1]
    if mean.shape != (c,) or std.shape != (c,):
        raise MaxlError(
            f"mean and std must have shape [{c}] for {c}-channel images, got "
            f"{tuple(mean.shape)} and {tuple(std.shape)}; compute them with channel_stats"
        )
    mean = mean.to(x_uint8.device, torch.float32).view(1, c, 1, 1)
    std = std.to(x_uint8.device, torch.float32).view(1, c, 1, 1)
    return x_uint8.float().div_(255.0).sub_(mean).div_(std)


def channel_stats(
    x_uint8: torch.Tensor, chunk_size: int = 4096
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (population) std of x/255 as float32 [C], summed exactly in int64
    chunk by chunk so 60000 images need little memory; std is floored at 1e-6. For float feature
    vectors [N, D], the mean and std of each feature (in float64)."""
    if x_uint8.dim() == 2 and x_uint8.is_floating_point() and len(x_uint8):
        values = x_uint8.double()
        return values.mean(0).float(), values.std(0, unbiased=False).clamp_min(1e-6).float()
    images = x_uint8.dim() == 4 and x_uint8.dtype in (torch.uint8, torch.float32)
    if not images or len(x_uint8) == 0:
        raise MaxlError(
            f"channel_stats needs a non-empty uint8 [N, C, H, W], got {x_uint8.dtype} "
            f"{tuple(x_uint8.shape)}"
        )
    n, c, h, w = x_uint8.shape
    return image_channel_stats(
        lambda: torch.split(x_uint8, chunk_size), x_uint8.dtype, c, n * h * w
    )


def image_channel_stats(
    chunks: Callable[[], Iterable[torch.Tensor]], dtype: torch.dtype, channels: int, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """channel_stats of images given as chunks [n, C, H, W] (`chunks()` yields them afresh;
    `count` = N·H·W values per channel): uint8 summed exactly in int64, float32 in two float64
    passes, so any chunking of the same images gives the same numbers."""
    if dtype == torch.float32:
        total = torch.zeros(channels, dtype=torch.float64)
        for chunk in chunks():  # float64 a chunk at a time
            total += chunk.double().sum(dim=(0, 2, 3)).cpu()
        mean = total / count
        squares = torch.zeros(channels, dtype=torch.float64)
        for chunk in chunks():
            centred = chunk.double() - mean.to(chunk.device).view(1, channels, 1, 1)
            squares += (centred**2).sum(dim=(0, 2, 3)).cpu()
        return mean.float(), (squares / count).sqrt().clamp_min(1e-6).float()
    total = torch.zeros(channels, dtype=torch.int64)
    squares = torch.zeros(channels, dtype=torch.int64)
    for chunk in chunks():
        values = chunk.to(torch.int32)
        total += values.sum(dim=(0, 2, 3), dtype=torch.int64).cpu()
        squares += (values * values).sum(dim=(0, 2, 3), dtype=torch.int64).cpu()
    mean = total.double() / (255.0 * count)
    var = squares.double() / (255.0**2 * count) - mean * mean
    std = var.clamp_min(0).sqrt().clamp_min(1e-6)
    return mean.float(), std.float()
