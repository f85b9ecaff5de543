"""First-order hypergradient: the mixed second derivative by a central difference (DARTS-style).

ε = 0.01/‖d‖ with d = ∇_{θ⁺} L_pri(θ⁺), and
∇_φ L_meta ≈ −α [∇_φ L_train(θ+εd, φ) − ∇_φ L_train(θ−εd, φ)] / (2ε) + λ∇_φ H.
Only the auxiliary term of L_train depends on φ, so the two perturbed forwards need no graph and
a single backward through the generator gives the whole estimate, entropy term included.
"""

from __future__ import annotations

import torch

from maxl.hypergrad.common import MetaProblem, Params, full_generator_gradient, zeros_for_unused


def finite_difference_hypergradient(
    problem: MetaProblem, scale: float = 0.01
) -> list[torch.Tensor]:
    """∇_φ L_meta by a central difference along d (ε = scale/‖d‖), one tensor per parameter."""
    theta = problem.trainable_net_params()
    phi = problem.generator_params()
    labels = problem.generated_labels()
    _, theta_plus = problem.inner_step(theta, labels.detach(), create_graph=False)
    direction = problem.meta_direction(theta_plus)
    meta = problem.entropy_term(labels)
    norm = torch.sqrt(sum((d.double() ** 2).sum() for d in direction.values()))
    if direction and float(norm) > 0:
        eps = scale / float(norm)
        with torch.no_grad():
            _, aux_plus = problem.net_forward(_shifted(theta, direction, eps), problem.x)
            _, aux_minus = problem.net_forward(_shifted(theta, direction, -eps), problem.x)
        difference = problem.aux_loss(aux_plus, labels) - problem.aux_loss(aux_minus, labels)
        meta = meta - problem.inner_lr * difference / (2 * eps)
    return full_generator_gradient(problem, zeros_for_unused(meta, phi))


def _shifted(theta: Params, direction: Params, eps: float) -> Params:
    return {name: p.detach() + eps * direction[name] for name, p in theta.items()}
