"""A small convolutional autoencoder whose codes the k-means baseline clusters, and its fit."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maxl.data.batches import batch_indices, channel_stats, to_float
from maxl.errors import MaxlError


class ConvAutoencoder(nn.Module):
    """Images [N, C, H, W] of any size -> codes [N, code_dim] -> reconstructions [N, C, H, W].

    Encoder: two stride-2 conv3x3-ReLU layers (widths w, 2w), adaptive average pooling to a
    grid x grid map (so every image size gives the same code size), a linear layer to the code.
    Decoder: the mirror image (linear, two stride-2 transposed convs), bilinear resizing to the
    input's exact H x W, and a conv3x3 to C channels. No output activation: the targets are
    normalised images, unbounded in both directions.
    """

    def __init__(
        self, in_channels: int, code_dim: int = 32, width: int = 16, grid: int = 4
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("code_dim", code_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MaxlError(f"{name} must be a positive integer, got {value!r}")
        self.in_channels = in_channels
        self.code_dim = code_dim
        hidden = (2 * width, grid, grid)
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
            nn.Linear(2 * width * grid * grid, code_dim),
        )
        self.expand = nn.Sequential(
            nn.Linear(code_dim, 2 * width * grid * grid), nn.ReLU(), nn.Unflatten(1, hidden)
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1),
            nn.ReLU(),
        )
        self.to_image = nn.Conv2d(width, in_channels, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes [N, code_dim] of images [N, C, H, W]."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise MaxlError(
                f"the autoencoder expects [N, {self.in_channels}, H, W] images, got shape "
                f"{tuple(x.shape)}"
            )
        return self.encoder(x)

    def decode(self, code: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Images [N, C, *size] reconstructed from codes [N, code_dim]."""
        features = self.upsample(self.expand(code))
        features = F.interpolate(features, size=size, mode="bilinear", align_corners=False)
        return self.to_image(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), (x.shape[-2], x.shape[-1]))


def train_autoencoder(
    model: ConvAutoencoder,
    images: torch.Tensor,
    *,
    epochs: int,
    seed: int = 0,
    batch_size: int = 100,
    lr: float = 1e-3,
) -> list[float]:
    """Fit `model` to reconstruct uint8 images [N, C, H, W] (MSE on normalised images, Adam).

    Shuffling is seeded by `seed` on the images' device; returns the mean loss of each epoch.
    """
    if epochs < 0 or batch_size < 1:
        raise MaxlError(
            f"the autoencoder needs epochs >= 0 and batch size >= 1, got {epochs} and "
            f"{batch_size}; pass e.g. --kmeans-epochs 5"
        )
    mean, std = channel_stats(images)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator(device=images.device).manual_seed(seed)
    model.train()
    losses = []
    for _ in range(epochs):
        total = torch.zeros((), dtype=torch.float64, device=images.device)
        batches = batch_indices(len(images), batch_size, shuffle=True, generator=generator)
        for rows in batches:
            x = to_float(images[rows], mean, std)
            loss = F.mse_loss(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * len(rows)
        losses.append(total.item() / len(images))
    return losses


@torch.no_grad()
def encode_images(
    model: ConvAutoencoder, images: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """Codes [N, code_dim] of uint8 images [N, C, H, W], normalised as in training."""
    mean, std = channel_stats(images)
    model.eval()
    return torch.cat(
        [model.encode(to_float(chunk, mean, std)) for chunk in images.split(batch_size)]
    )
