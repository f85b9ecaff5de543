"""Exact (second-order) hypergradient of L_meta(φ) by double backward.

With d = ∇_{θ⁺} L_pri(θ⁺) held fixed, ∇_φ L_meta = ∇_φ[−α ⟨∇_θ L_train(θ, φ), d⟩] + λ∇_φ H:
one backward with create_graph gives ∇_θ L_train, the inner product with d is then
differentiated in φ. The graph of θ⁺'s own forward is never needed.
"""

from __future__ import annotations

import torch

from maxl.hypergrad.common import MetaProblem, full_generator_gradient, zeros_for_unused


def exact_hypergradient(problem: MetaProblem) -> list[torch.Tensor]:
    """∇_φ L_meta exactly, one tensor per generator parameter."""
    theta = problem.trainable_net_params()
    phi = problem.generator_params()
    labels = problem.generated_labels()
    grad_theta, theta_plus = problem.inner_step(theta, labels, create_graph=True)
    direction = problem.meta_direction(theta_plus)
    inner = sum(
        (g * d).sum()
        for g, d in zip(grad_theta, direction.values(), strict=True)
        if g.requires_grad
    )
    meta = -problem.inner_lr * inner + problem.entropy_term(labels)
    return full_generator_gradient(problem, zeros_for_unused(meta, phi))
