"""Data and a backbone for tests/test_streaming.py, and the script that torchrun starts there:
`python stream_helpers.py OUT` fits MAXL on a streamed Dataset of digits into OUT.

(A uniquely named module, so that the processes torchrun starts can import it by name.)
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

DIGITS_OPTIONS = {
    "psi": 2,
    "epochs": 2,
    "batch_size": 50,
    "val_fraction": 0.1,
    "augment": True,
    "crop_pad": 1,
    "analysis_size": 64,
    "progress": False,
}


class Digits(torch.utils.data.Dataset):
    """scikit-learn's 8×8 digits as uint8 images (primary: digit < 5, fine: the digit), with
    optional random noise (a random transform of the Dataset's own, in 0..noise grey levels)."""

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, fine: torch.Tensor | None = None, noise: int = 0
    ) -> None:
        self.x, self.y, self.fine, self.noise = x, y, fine, noise

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        x = self.x[i]
        if self.noise:
            x = (x.int() + torch.randint(0, self.noise, x.shape)).clamp(0, 255).to(torch.uint8)
        if self.fine is None:
            return x, int(self.y[i])
        return x, int(self.y[i]), int(self.fine[i])


def digits_splits(fine: bool) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """200 training and 100 test digits as uint8 [N, 1, 8, 8] images."""
    images, digits = load_digits(return_X_y=True)
    x = torch.from_numpy(np.rint(images * 255 / 16).astype(np.uint8)).view(-1, 1, 8, 8)
    y = torch.from_numpy(digits)
    parts = [
        (x[a:b], (y[a:b] >= 5).long(), *((y[a:b],) if fine else ()))
        for a, b in ((0, 200), (200, 300))
    ]
    return parts[0], parts[1]


class SmallConv(nn.Module):
    """A trunk with BatchNorm, so that the data-parallel runs need global statistics."""

    feature_dim = 64

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(32, 64), nn.ReLU(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def small_cnn() -> nn.Module:
    return SmallConv()


if __name__ == "__main__":
    import maxl

    train_split, test_split = digits_splits(fine=False)
    maxl.fit(
        small_cnn,
        Digits(*train_split, noise=40),
        Digits(*test_split),
        method="maxl",
        out=sys.argv[1],
        stream=True,
        workers=1,
        sync_bn=True,
        gen_lr=0.1,
        device="cpu",
        **{**DIGITS_OPTIONS, "batch_size": 40, "val_fraction": 0.0},
    )
