"""The losses of MAXL: focal loss for both heads and the entropy regulariser of the generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_terms(logits: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """-(1 - p_k)^γ log p_k for every entry, p = softmax(logits): the per-class cost that a target
    distribution weights. Computed from log_softmax, so it stays finite for large logits."""
    log_p = F.log_softmax(logits, dim=-1)
    return -log_p if gamma == 0 else -(1 - log_p.exp()).pow(gamma) * log_p


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Batch mean of -Σ_k t_k (1 - p_k)^γ log p_k with p = softmax(logits); γ = 0 is cross-entropy.

    `target` is either class indices [N] (a one-hot t) or a distribution [N, K].
    """
    if not target.dtype.is_floating_point:
        log_p = F.log_softmax(logits, dim=-1).gather(-1, target.long().unsqueeze(-1))
        weighted = log_p if gamma == 0 else (1 - log_p.exp()).pow(gamma) * log_p
        return -weighted.squeeze(-1).mean()
    return (target * focal_terms(logits, gamma)).sum(dim=-1).mean()


def entropy_regulariser(probabilities: torch.Tensor) -> torch.Tensor:
    """Σ_k ȳ_k log ȳ_k of the batch-mean distribution ȳ: negative entropy; minimising it spreads.

    Classes with ȳ_k = 0 (their primary class is absent from the batch) contribute 0 and a zero
    gradient instead of 0·log 0 = nan.
    """
    mean = probabilities.mean(dim=0)
    present = mean > 0
    safe = torch.where(present, mean, torch.ones_like(mean))
    return torch.where(present, mean * safe.log(), torch.zeros_like(mean)).sum()


def label_entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of each row's entropy -Σ_k y_k log y_k (DESIGN §1's C(φ)): 0 for
    one-hot rows. Entries exactly 0 (outside the row's block) contribute 0 and a zero gradient."""
    present = probabilities > 0
    safe = torch.where(present, probabilities, torch.ones_like(probabilities))
    terms = torch.where(present, probabilities * safe.log(), torch.zeros_like(probabilities))
    return -terms.sum(dim=-1).mean()
