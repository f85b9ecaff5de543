"""What the auxiliary labels look like and how their gradient relates to the primary one:
pure functions of tensors, so each can be checked by hand on tiny inputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def gradient_cosine(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> float:
    """Cosine between two gradients, each flattened into one vector over all its tensors
    (0 when either is zero). MAXL's original code averaged a per-row cosine instead."""
    a = torch.cat([g.reshape(-1) for g in first]).double()
    b = torch.cat([g.reshape(-1) for g in second]).double()
    norms = a.norm() * b.norm()
    return 0.0 if norms == 0 else float(a @ b / norms)


def entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats along the last axis, with 0 log 0 = 0."""
    p = probabilities.double()
    return -torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p)).sum(-1)


def mean_label_entropy(labels: torch.Tensor) -> float:
    """Mean over images of the entropy of each one's label distribution [N, K]: 0 for hard
    labels, log K for uniform ones."""
    return float(entropy(labels).mean())


def marginal_entropy(labels: torch.Tensor) -> float:
    """Entropy of the mean label distribution: how evenly the K classes are used overall (the
    quantity MAXL's entropy regulariser pushes up, up to sign)."""
    return float(entropy(labels.double().mean(0)))


def class_usage(labels: torch.Tensor) -> list[float]:
    """Share of images whose most likely class is k, for each of the K classes."""
    counts = torch.bincount(labels.argmax(1), minlength=labels.shape[1])
    return (counts.double() / len(labels)).tolist()


def normalized_mutual_information(a: torch.Tensor, b: torch.Tensor) -> float:
    """I(A; B) / ((H(A) + H(B)) / 2) of two labellings of the same items (the arithmetic-mean
    normalisation, as scikit-learn's default); 1 when both are constant."""
    _, a = torch.unique(a, return_inverse=True)
    _, b = torch.unique(b, return_inverse=True)
    joint = torch.zeros(int(a.max()) + 1, int(b.max()) + 1, dtype=torch.float64)
    joint.index_put_((a, b), torch.ones(len(a), dtype=torch.float64), accumulate=True)
    joint /= len(a)
    h_a, h_b = float(entropy(joint.sum(1))), float(entropy(joint.sum(0)))
    if h_a + h_b == 0:
        return 1.0
    mutual = h_a + h_b - float(entropy(joint.reshape(-1)))
    return max(0.0, mutual) / ((h_a + h_b) / 2)


def nmi_within_groups(a: torch.Tensor, b: torch.Tensor, groups: torch.Tensor) -> float | None:
    """NMI of a and b inside each group where b takes at least two values, averaged with the
    groups' sizes as weights; None when no group qualifies. Generated and human labels both
    nest inside the primary classes, so their plain NMI credits the primary split too."""
    total, weight = 0.0, 0
    for group in torch.unique(groups):
        rows = groups == group
        if len(torch.unique(b[rows])) < 2:
            continue
        size = int(rows.sum())
        total += size * normalized_mutual_information(a[rows], b[rows])
        weight += size
    return total / weight if weight else None


def label_change(before: torch.Tensor, after: torch.Tensor) -> float:
    """Share of items whose class differs between two labellings of the same items (0..1)."""
    if len(before) != len(after):
        raise ValueError(f"{len(before)} labels before, {len(after)} after")
    return float((before != after).double().mean()) if len(before) else 0.0
