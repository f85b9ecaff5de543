"""The k-means baseline's autoencoder: shapes for every image size, and that training fits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from maxl.errors import MaxlError
from maxl.models import ConvAutoencoder
from maxl.models.autoencoder import encode_images, train_autoencoder


def normalise(x: torch.Tensor) -> torch.Tensor:
    """(x/255 - mean) / std per channel, computed here independently of maxl.data.batches."""
    x = x.double() / 255
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return ((x - mean) / std).float()


def blobs(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    """uint8 images with smooth structure (upsampled coarse noise), so there is something to fit."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 4, 4, generator=g)
    x = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 255).round().to(torch.uint8)


@pytest.mark.parametrize(("channels", "height", "width"), [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_shapes_for_every_image_size(channels: int, height: int, width: int) -> None:
    torch.manual_seed(0)
    model = ConvAutoencoder(channels, code_dim=12)
    x = torch.randn(5, channels, height, width)
    code = model.encode(x)
    assert code.shape == (5, 12)
    out = model(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert model.decode(code, (7, 9)).shape == (5, channels, 7, 9)


def test_odd_and_tiny_sizes_reconstruct_to_the_input_size() -> None:
    model = ConvAutoencoder(2)
    for h, w in [(1, 1), (5, 7), (13, 4)]:
        assert model(torch.randn(3, 2, h, w)).shape == (3, 2, h, w)


def test_bad_input_and_settings_raise() -> None:
    with pytest.raises(MaxlError, match="3, H, W"):
        ConvAutoencoder(3).encode(torch.randn(2, 1, 8, 8))
    with pytest.raises(MaxlError, match="code_dim"):
        ConvAutoencoder(1, code_dim=0)
    with pytest.raises(MaxlError, match="epochs"):
        train_autoencoder(ConvAutoencoder(1), blobs(4, 1, 8), epochs=-1)


def test_training_lowers_the_reconstruction_error() -> None:
    torch.manual_seed(0)
    images = blobs(64, 1, 8)
    model = ConvAutoencoder(1, code_dim=8)
    x = normalise(images)
    with torch.no_grad():
        before = F.mse_loss(model(x), x).item()
    losses = train_autoencoder(model, images, epochs=15, batch_size=16, lr=3e-3, seed=0)
    with torch.no_grad():
        after = F.mse_loss(model(x), x).item()
    assert len(losses) == 15
    assert losses[-1] < 0.5 * losses[0]
    assert after < 0.5 * before


def test_epoch_loss_is_the_mean_squared_error_over_the_images() -> None:
    # With lr = 0 nothing changes, so every epoch's loss is the MSE of the untrained model,
    # whatever the batch split (batch 10 leaves a last batch of 3).
    torch.manual_seed(1)
    images = blobs(23, 3, 8, seed=1)
    model = ConvAutoencoder(3, code_dim=4)
    x = normalise(images)
    with torch.no_grad():
        expected = F.mse_loss(model(x), x).item()
    losses = train_autoencoder(model, images, epochs=2, batch_size=10, lr=0.0)
    assert losses == pytest.approx([expected, expected], rel=1e-4)
    assert train_autoencoder(model, images, epochs=0) == []


def test_training_is_seeded() -> None:
    images = blobs(20, 1, 8)
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(0)  # same initialisation; only the shuffling seed differs
        runs.append(
            train_autoencoder(ConvAutoencoder(1), images, epochs=2, batch_size=8, seed=seed)
        )
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1]


def test_encode_images_encodes_normalised_images_in_batches() -> None:
    torch.manual_seed(0)
    images = blobs(9, 3, 8)
    model = ConvAutoencoder(3, code_dim=5)
    with torch.no_grad():
        expected = model.encode(normalise(images))
    codes = encode_images(model, images, batch_size=4)
    assert codes.shape == (9, 5)
    assert torch.allclose(codes, expected, atol=1e-5)
