"""Tiny float64 networks and a brute-force L_meta, written independently of maxl's internals."""

from __future__ import annotations

import copy

import torch
from torch import nn

PSI = [3, 1, 2]  # non-uniform on purpose


def block_mask(y: torch.Tensor, psi: list[int]) -> torch.Tensor:
    owner = torch.cat([torch.full((size,), i) for i, size in enumerate(psi)])
    return (owner[None, :] == y[:, None]).double()


class TinyNet(nn.Module):
    """Conv + BatchNorm trunk with two linear heads."""

    def __init__(self, num_primary: int, num_aux: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.norm = nn.BatchNorm2d(3)
        self.primary = nn.Linear(3 * 4, num_primary)
        self.aux = nn.Linear(3 * 4, num_aux)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.norm(self.conv(x)))
        h = nn.functional.avg_pool2d(h, 2).flatten(1)
        return self.primary(h), self.aux(h)


class TinyGenerator(nn.Module):
    """Linear + BatchNorm features, a masked softmax over y's block written by hand."""

    def __init__(self, psi: list[int]) -> None:
        super().__init__()
        self.psi = psi
        self.features = nn.Linear(16, 5)
        self.norm = nn.BatchNorm1d(5)
        self.head = nn.Linear(5, sum(psi))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = self.head(torch.tanh(self.norm(self.features(x.flatten(1)))))
        mask = block_mask(y, self.psi)
        z = z - z.max(dim=1, keepdim=True).values
        e = torch.exp(z) * mask
        return e / e.sum(dim=1, keepdim=True)


def reference_focal(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0):
    p = torch.softmax(logits, dim=1)
    return -(target * (1 - p) ** gamma * torch.log(p)).sum(dim=1).mean()


def reference_confidence(labels: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -Σ_k y_k log y_k, skipping the exact zeros outside each block."""
    rows = [-sum(v * torch.log(v) for v in row if v > 0) for row in labels]
    return sum(rows) / len(rows)


def reference_meta_objective(
    net, generator, x, y, x_meta, y_meta, lr, lam, psi, stepped=None, confidence=0.0
):
    """L_meta(φ) by the book: copy the nets, take a real SGD step on θ, score the primary task.
    `stepped(name)` says which of net's parameters the step moves (default: all); `confidence`
    weighs the mean per-image label entropy."""
    net = copy.deepcopy(net).train()
    generator = copy.deepcopy(generator).train()
    labels = generator(x, y)
    primary, aux = net(x)
    onehot = nn.functional.one_hot(y, len(psi)).double()
    loss = reference_focal(primary, onehot) + reference_focal(aux, labels)
    moved = [p for name, p in net.named_parameters() if stepped is None or stepped(name)]
    grads = torch.autograd.grad(loss, moved)
    with torch.no_grad():
        for p, g in zip(moved, grads, strict=True):
            p -= lr * g
    primary_after, _ = net(x_meta)
    onehot_meta = nn.functional.one_hot(y_meta, len(psi)).double()
    mean = labels.mean(dim=0)
    negentropy = sum(m * torch.log(m) for m in mean if m > 0)
    meta = reference_focal(primary_after, onehot_meta) + lam * negentropy
    return meta + confidence * reference_confidence(labels) if confidence else meta


def central_differences(generator, objective, h: float = 1e-6) -> list[torch.Tensor]:
    """∂ objective / ∂φ entry by entry, by central differences in float64."""
    grads = []
    for p in generator.parameters():
        g = torch.zeros_like(p)
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            original = flat[i].item()
            flat[i] = original + h
            up = objective().item()
            flat[i] = original - h
            down = objective().item()
            flat[i] = original
            g.view(-1)[i] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def relative_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """‖a − b‖ / ‖b‖ over all tensors, flattened together."""
    flat_a = torch.cat([t.reshape(-1) for t in a])
    flat_b = torch.cat([t.reshape(-1) for t in b])
    return float((flat_a - flat_b).norm() / flat_b.norm())
