"""MAXL inside your own PyTorch training loop, with maxl.MetaLabeler.

python examples/own_loop.py --epochs 5
"""

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn

import maxl

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()
torch.manual_seed(0)

images, digits = load_digits(return_X_y=True)
x = torch.tensor(images, dtype=torch.float32).view(-1, 1, 8, 8) / 16
y = torch.tensor(digits) % 2  # primary: parity
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
psi = maxl.Hierarchy([5, 5])  # 5 auxiliary classes for each primary class


def trunk() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())  # fmt: skip


net = maxl.MultiTaskNet(trunk(), 32, psi.num_primary, psi.num_aux)  # (primary, aux) logits
generator = maxl.LabelGenerator(trunk(), 32, psi)  # auxiliary label probabilities
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
labeler = maxl.MetaLabeler(generator, torch.optim.SGD(generator.parameters(), lr=1e-3))

for epoch in range(args.epochs):
    for rows in torch.randperm(len(x_train)).split(100):
        xb, yb = x_train[rows], y_train[rows]
        targets = labeler.targets(xb, yb)  # before the forward
        primary_logits, aux_logits = net(xb)
        loss = maxl.focal_loss(primary_logits, yb) + maxl.focal_loss(aux_logits, targets)
        optimizer.zero_grad()
        loss.backward()
        labeler.step(net, xb, yb, lr=0.1)  # the generator's meta step, from net's .grad
        optimizer.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(x_test)[0].argmax(1) == y_test).float().mean().item()
    net.train()
    print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {100 * accuracy:.2f}%")
