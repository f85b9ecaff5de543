"""Hypergradients of the meta objective L_meta(φ): one module per method, one signature."""

from __future__ import annotations

import torch
from torch import nn

from maxl.distributed import Ranks
from maxl.hypergrad.common import (
    Hypergradient,
    MetaProblem,
    batch_statistics,
    generated_labels,
    meta_gradient,
    meta_problem,
)
from maxl.hypergrad.exact import EXACT
from maxl.hypergrad.finite_difference import FINITE_DIFFERENCE
from maxl.hypergrad.implicit import IMPLICIT
from maxl.hypergrad.settings import HYPERGRADIENT_NAMES, MetaSettings, settings_with

HYPERGRADIENT_METHODS: dict[str, Hypergradient] = dict(
    zip(HYPERGRADIENT_NAMES, (EXACT, FINITE_DIFFERENCE, IMPLICIT), strict=True)
)


def hypergradient_of(method: str) -> Hypergradient:
    """A hypergradient method (its direction and label sensitivity), by name."""
    return HYPERGRADIENT_METHODS[MetaSettings(hypergrad=method).hypergrad]


def generator_hypergradient(
    net: nn.Module,
    generator: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    inner_lr: float = 0.01,
    entropy_weight: float | None = None,
    method: str | None = None,
    meta_batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    aux_weight: float | None = None,
    focal_gamma: float | None = None,
    neumann_terms: int | None = None,
    meta_depth: int | None = None,
    confidence_weight: float | None = None,
    settings: MetaSettings | None = None,
    labels: torch.Tensor | None = None,
    ranks: Ranks | None = None,
) -> list[torch.Tensor]:
    """∇_φ L_meta(φ) for the label generator, one tensor per generator.parameters() entry.

    net.forward(x) -> (primary_logits, aux_logits); generator.forward(x, y) -> auxiliary label
    probabilities. L_meta is the primary loss after one SGD step of size inner_lr on the
    multi-task loss, evaluated on meta_batch (default: the same batch), plus entropy_weight
    times the entropy regulariser. BatchNorm uses batch statistics; no running statistic and
    no .grad of either network is touched. method="implicit" approximates the same gradient by
    the implicit function theorem with `neumann_terms` Hessian-vector products at θ.
    meta_depth=K (a maxl MultiTaskNet whose backbone declares blocks()) differentiates through
    the top K blocks and the heads only, as if the blocks below were frozen.
    confidence_weight=λ_c adds λ_c times the mean per-image entropy of the labels (DESIGN §1).

    The settings come from `settings` (default: MetaSettings(), whose defaults are entropy
    0.2, exact, aux weight 1, γ 2, J 3, all blocks, λ_c 0), each keyword given (not None) in
    place of its field (`method` is the field `hypergrad`). `labels`: the generator's labels of
    (x, y) with their graph in φ, when the caller already ran it (default: a forward here on a
    copy of its buffers). `ranks`: this process's shard of a data-parallel batch (the result is
    the global batch's hypergradient).
    """
    settings = settings_with(settings, locals(), method_name="method")
    with batch_statistics(net, generator):
        problem = meta_problem(
            net, generator, x, y, meta_batch, inner_lr=inner_lr, settings=settings, ranks=ranks
        )
        if labels is None:
            labels = generated_labels(generator, x, y)
        theta = problem.trainable_net_params()
        train_grad = problem.train_gradient(theta, labels)
        hypergradient = HYPERGRADIENT_METHODS[settings.hypergrad]
        return meta_gradient(problem, labels, theta, train_grad, hypergradient)


__all__ = [
    "HYPERGRADIENT_METHODS",
    "Hypergradient",
    "MetaProblem",
    "MetaSettings",
    "generator_hypergradient",
    "hypergradient_of",
    "meta_gradient",
    "meta_problem",
]
