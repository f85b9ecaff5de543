"""MAXL on a backbone of your own: any nn.Module mapping inputs to features [N, D].

python examples/own_model.py --epochs 5
"""

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn

import maxl


class TinyCNN(nn.Module):
    """Your network: here two conv blocks and global pooling, for 8×8 grey digits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--out", default="runs/example-own-model")
args = parser.parse_args()

images, digits = load_digits(return_X_y=True)
x = torch.tensor(images, dtype=torch.float32).view(-1, 1, 8, 8) / 16  # floats in 0..1
y = torch.tensor(digits) % 2  # primary task: odd or even; the digit is a finer label
fine = torch.tensor(digits)
train, test = (x[:1400], y[:1400], fine[:1400]), (x[1400:], y[1400:], fine[1400:])

for method in ("single", "maxl"):
    result = maxl.fit(
        TinyCNN,  # a zero-argument callable: a fresh network for each of the two roles
        train, test, method=method, psi=5, epochs=args.epochs, lr=0.1, momentum=0.9,
        out=f"{args.out}/{method}",
    )  # fmt: skip
    print(f"{method}: test accuracy {100 * result.test_accuracy:.2f}% ({result.out})")
