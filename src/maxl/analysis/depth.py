"""How much of the exact meta-gradient `--meta-depth K` keeps: the cosine and norm ratio of the
generator's meta-gradient through the top K blocks against the one through all blocks."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from maxl.hypergrad import generator_hypergradient
from maxl.hypergrad.settings import MetaSettings
from maxl.models.blocks import block_count


@dataclass(frozen=True)
class DepthAgreement:
    """Means over batches of the cosine with the all-blocks meta-gradient and of the norm
    ratio (depth K / all blocks)."""

    cosine: float
    norm_ratio: float


def flat(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def depth_agreement(
    net: nn.Module,
    generator: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    inner_lr: float,
    aux_weight: float,
    focal_gamma: float,
) -> dict[int, DepthAgreement]:
    """Depth K (1 to all blocks less one) -> agreement, entropy weight 0 (the entropy term is
    the same at every depth and would drown the comparison)."""
    count = block_count(net.backbone)  # type: ignore[arg-type]
    if count is None:
        raise ValueError("the network's backbone declares no blocks")
    settings = MetaSettings(entropy_weight=0.0, aux_weight=aux_weight, focal_gamma=focal_gamma)
    found: dict[int, list[tuple[float, float]]] = {k: [] for k in range(1, count)}
    for x, y in batches:
        full = flat(generator_hypergradient(net, generator, x, y, inner_lr, settings=settings))
        for depth, values in found.items():
            deeper = dataclasses.replace(settings, meta_depth=depth)
            part = flat(generator_hypergradient(net, generator, x, y, inner_lr, settings=deeper))
            cosine = float(torch.nn.functional.cosine_similarity(part, full, dim=0))
            values.append((cosine, float(part.norm() / full.norm())))
    return {
        depth: DepthAgreement(
            statistics.fmean(c for c, _ in values), statistics.fmean(r for _, r in values)
        )
        for depth, values in found.items()
    }
