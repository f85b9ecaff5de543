"""The two parts of the generator's gradient side by side: the meta-gradient (of the primary
loss after one inner step) and the entropy regulariser's λ∇H."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from maxl.analysis.metrics import gradient_cosine
from maxl.hypergrad import generator_hypergradient
from maxl.hypergrad.settings import MetaSettings


@dataclass(frozen=True)
class GradientBalance:
    """Medians over batches of |meta-gradient|, |λ∇H| and the cosine between them."""

    meta_norm: float
    entropy_norm: float
    cosine: float


def flat_norm(grads: list[torch.Tensor]) -> float:
    """The norm of a gradient given as one tensor per parameter."""
    return float(torch.cat([g.reshape(-1) for g in grads]).norm())


def gradient_balance(
    net: nn.Module,
    generator: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    inner_lr: float,
    entropy_weight: float,
    aux_weight: float,
    focal_gamma: float,
) -> GradientBalance:
    """Both parts on each batch (λ∇H as the full hypergradient less the one with λ = 0)."""
    meta_only = MetaSettings(entropy_weight=0.0, aux_weight=aux_weight, focal_gamma=focal_gamma)
    with_entropy = dataclasses.replace(meta_only, entropy_weight=entropy_weight)
    metas, entropies, cosines = [], [], []
    for x, y in batches:
        meta = generator_hypergradient(net, generator, x, y, inner_lr, settings=meta_only)
        full = generator_hypergradient(net, generator, x, y, inner_lr, settings=with_entropy)
        entropy = [f - m for f, m in zip(full, meta, strict=True)]
        metas.append(flat_norm(meta))
        entropies.append(flat_norm(entropy))
        cosines.append(gradient_cosine(meta, entropy))
    return GradientBalance(
        statistics.median(metas), statistics.median(entropies), statistics.median(cosines)
    )
