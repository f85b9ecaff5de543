"""Backbones as consecutive blocks, so that MAXL's meta-gradient can stop below the top K.

A backbone declares its blocks with a method ``blocks() -> list[nn.Module]``: applied in order
to a valid input they give exactly ``forward``'s features, and together they hold every
parameter of the backbone once. `split_at_depth` cuts a `MultiTaskNet` there: the lower blocks
compute features once per meta step, without a graph, and the top K blocks and both heads form
the network that the meta-gradient differentiates (`--meta-depth K`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from maxl.errors import MaxlError
from maxl.models.multitask import MultiTaskNet


class UpperNet(nn.Module):
    """The top blocks of a trunk and both heads: features below the blocks -> (primary, aux)."""

    def __init__(
        self, blocks: list[nn.Module], primary_head: nn.Module, aux_head: nn.Module
    ) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.primary_head = primary_head
        self.aux_head = aux_head

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.blocks(h)
        return self.primary_head(features), self.aux_head(features)


@dataclass(frozen=True)
class DepthSplit:
    """A multi-task network cut below its top K blocks: `lower` maps inputs to the features
    that enter them, `upper` maps those to (primary_logits, aux_logits). Both share the
    network's own modules, so their parameters are the network's."""

    lower: nn.Module
    upper: nn.Module


def declared_blocks(backbone: nn.Module) -> list[nn.Module] | None:
    """The backbone's blocks, or None when it declares none (a submodule that happens to be
    called `blocks`, as in many vision transformers, is not a declaration)."""
    blocks = getattr(backbone, "blocks", None)
    if not callable(blocks) or isinstance(blocks, nn.Module):
        return None
    return list(blocks())


def split_at_depth(net: nn.Module, depth: int | None) -> DepthSplit | None:
    """`net` cut below its top `depth` blocks; None for the whole network: depth None, or a
    network that is not a MultiTaskNet over a backbone declaring blocks()."""
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise MaxlError(f"the meta depth must be a whole number of blocks >= 1, got {depth!r}")
    if not isinstance(net, MultiTaskNet):
        return None
    blocks = declared_blocks(net.backbone)
    if blocks is None:
        return None
    name = type(net.backbone).__name__
    if depth > len(blocks):
        raise MaxlError(
            f"meta depth {depth} is more than the {len(blocks)} blocks of the backbone {name}; "
            f"give --meta-depth (meta_depth=) 1 to {len(blocks)}, or leave it out for all"
        )
    held = [id(p) for block in blocks for p in block.parameters()]
    if len(set(held)) != len(held) or set(held) != {id(p) for p in net.backbone.parameters()}:
        raise MaxlError(
            f"{name}.blocks() must hold each of the backbone's parameters exactly once (and, "
            "applied in order, give its features); fix blocks() or remove it"
        )
    lower = nn.Sequential(*blocks[: len(blocks) - depth])
    upper = UpperNet(blocks[len(blocks) - depth :], net.primary_head, net.aux_head)
    return DepthSplit(lower, upper)


def block_count(backbone: nn.Module) -> int | None:
    """How many blocks the backbone declares (None: it declares none)."""
    blocks = declared_blocks(backbone)
    return None if blocks is None else len(blocks)
