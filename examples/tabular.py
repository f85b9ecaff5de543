"""MAXL on tabular data: feature vectors [N, D] take an MLP trunk and no image augmentation.

python examples/tabular.py --epochs 10
"""

import argparse

import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

import maxl

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--out", default="runs/example-tabular")
args = parser.parse_args()

features, labels = load_breast_cancer(return_X_y=True)  # 569 tumours, 30 measurements each
order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
x = torch.tensor(features, dtype=torch.float32)[order]  # maxl standardises each feature
y = torch.tensor(labels)[order]
train, test = (x[:450], y[:450]), (x[450:], y[450:])


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(30, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 64),
                         nn.BatchNorm1d(64), nn.ReLU())  # fmt: skip


for method in ("single", "random", "maxl"):
    result = maxl.fit(mlp, train, test, method=method, psi=3, epochs=args.epochs, lr=0.05,
                      batch_size=50, out=f"{args.out}/{method}")  # fmt: skip
    print(f"{method}: test accuracy {100 * result.test_accuracy:.2f}%")
