"""Hypergradients of the meta objective L_meta(φ): one module per method, one signature."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError
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

HYPERGRADIENT_METHODS: dict[str, Hypergradient] = {
    "exact": EXACT,
    "finite-difference": FINITE_DIFFERENCE,
    "implicit": IMPLICIT,
}


def hypergradient_of(method: str) -> Hypergradient:
    """A hypergradient method (its direction and label sensitivity), by name."""
    if method not in HYPERGRADIENT_METHODS:
        raise MaxlError(
            f"unknown hypergradient method {method!r}; choose one of "
            + ", ".join(HYPERGRADIENT_METHODS)
        )
    return HYPERGRADIENT_METHODS[method]


def generator_hypergradient(
    net: nn.Module,
    generator: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    inner_lr: float = 0.01,
    entropy_weight: float = 0.2,
    method: str = "exact",
    meta_batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    aux_weight: float = 1.0,
    focal_gamma: float = 2.0,
    neumann_terms: int = 3,
    meta_depth: int | None = None,
    confidence_weight: float = 0.0,
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
    """
    hypergradient = hypergradient_of(method)
    if isinstance(neumann_terms, bool) or not isinstance(neumann_terms, int) or neumann_terms < 0:
        raise MaxlError(f"neumann_terms must be a whole number >= 0, got {neumann_terms!r}")
    with batch_statistics(net, generator):
        problem = meta_problem(
            net,
            generator,
            x,
            y,
            meta_batch,
            inner_lr=inner_lr,
            entropy_weight=entropy_weight,
            aux_weight=aux_weight,
            focal_gamma=focal_gamma,
            neumann_terms=neumann_terms,
            meta_depth=meta_depth,
            confidence_weight=confidence_weight,
        )
        labels = generated_labels(generator, x, y)
        theta = problem.trainable_net_params()
        train_grad = problem.train_gradient(theta, labels)
        return meta_gradient(problem, labels, theta, train_grad, hypergradient)


__all__ = [
    "HYPERGRADIENT_METHODS",
    "Hypergradient",
    "MetaProblem",
    "generator_hypergradient",
    "hypergradient_of",
    "meta_gradient",
    "meta_problem",
]
