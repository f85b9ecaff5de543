"""First-order hypergradient: the mixed second derivative by a central difference (DARTS-style).

ε = 0.01/‖d‖ with d = ∇_{θ⁺} L_pri(θ⁺), and
∇_φ L_meta ≈ −α [∇_φ L_train(θ+εd, φ) − ∇_φ L_train(θ−εd, φ)] / (2ε) + λ∇_φ H.
Only the auxiliary term of L_train depends on φ, and linearly in the labels, so two forwards
without a graph give the label sensitivity and the generator is differentiated once.
"""

from __future__ import annotations

import torch

from maxl.hypergrad.common import Hypergradient, MetaProblem, Params, one_step_direction, shifted


def finite_difference_sensitivity(
    problem: MetaProblem, theta: Params, direction: Params, scale: float = 0.01
) -> torch.Tensor:
    """s ≈ (w/N)·[c(θ+εd) − c(θ−εd)]/(2ε), ε = scale/‖d‖ (0 when d = 0), [N, K]."""
    squares = [(d.double() ** 2).sum() for d in direction.values()]
    norm = torch.stack(squares).sum().sqrt() if squares else torch.zeros((), dtype=torch.float64)
    eps = scale / norm.clamp_min(torch.finfo(torch.float64).tiny)  # d = 0: θ±εd = θ, s = 0
    with torch.no_grad():
        _, aux_plus = problem.net_forward(shifted(theta, direction, eps), problem.x)
        _, aux_minus = problem.net_forward(shifted(theta, direction, -eps), problem.x)
        difference = problem.label_weights(aux_plus) - problem.label_weights(aux_minus)
    return difference / (2 * eps)  # a 0-d float64 ε keeps each tensor's own dtype


FINITE_DIFFERENCE = Hypergradient(one_step_direction, finite_difference_sensitivity)
