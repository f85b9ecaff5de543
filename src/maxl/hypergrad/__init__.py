"""Hypergradients of the meta objective L_meta(φ): one module per method, one signature."""

from __future__ import annotations

import torch
from torch import nn

from maxl.errors import MaxlError
from maxl.hypergrad.common import MetaProblem, Sensitivity, batch_statistics, meta_gradient
from maxl.hypergrad.exact import exact_sensitivity
from maxl.hypergrad.finite_difference import finite_difference_sensitivity

HYPERGRADIENT_METHODS: dict[str, Sensitivity] = {
    "exact": exact_sensitivity,
    "finite-difference": finite_difference_sensitivity,
}


def sensitivity_of(method: str) -> Sensitivity:
    """The label-sensitivity function of a hypergradient method, by name."""
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
) -> list[torch.Tensor]:
    """∇_φ L_meta(φ) for the label generator, one tensor per generator.parameters() entry.

    net.forward(x) -> (primary_logits, aux_logits); generator.forward(x, y) -> auxiliary label
    probabilities. L_meta is the primary loss after one SGD step of size inner_lr on the
    multi-task loss, evaluated on meta_batch (default: the same batch), plus entropy_weight
    times the entropy regulariser. BatchNorm uses batch statistics; no running statistic and
    no .grad of either network is touched.
    """
    sensitivity = sensitivity_of(method)
    x_meta, y_meta = (x, y) if meta_batch is None else meta_batch
    problem = MetaProblem(
        net=net,
        generator=generator,
        x=x,
        y=y,
        x_meta=x_meta,
        y_meta=y_meta,
        inner_lr=float(inner_lr),
        entropy_weight=float(entropy_weight),
        aux_weight=float(aux_weight),
        focal_gamma=float(focal_gamma),
    )
    with batch_statistics(net, generator):
        labels = problem.generated_labels()
        theta = problem.trainable_net_params()
        train_grad = problem.train_gradient(theta, labels)
        return meta_gradient(problem, labels, theta, train_grad, sensitivity)


__all__ = [
    "HYPERGRADIENT_METHODS",
    "MetaProblem",
    "generator_hypergradient",
    "meta_gradient",
    "sensitivity_of",
]
