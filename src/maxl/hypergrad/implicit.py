"""Implicit-function-theorem hypergradient (AuxiLearn, Navon et al., ICLR 2021).

Treating θ as a minimiser of L_train, ∇_φ L_meta ≈ −(∂²L_train/∂φ∂θ)·v + λ∇_φH with
v = α Σ_{j=0}^{J} (I − α∇²_θ L_train)^j d_θ, d_θ = ∇_θ L_pri(θ; x'): J Hessian-vector products at
the current θ (the Neumann series of the inverse Hessian). J = 0 is the one-step formula with d
taken at θ instead of θ⁺. The mixed term along v is the exact forward-mode label sensitivity.
"""

from __future__ import annotations

import torch

from maxl.hypergrad.common import Hypergradient, MetaProblem, Params, zeros_for_unused
from maxl.hypergrad.exact import exact_sensitivity


def implicit_direction(
    problem: MetaProblem, theta: Params, train_grad: Params, labels: torch.Tensor
) -> tuple[Params, float]:
    """v = α Σ_{j=0}^{J} (I − αH)^j d_θ with H = ∇²_θ L_train(θ, labels), scale 1."""
    direction = problem.meta_direction(theta)
    if problem.settings.neumann_terms == 0:
        return {name: problem.inner_lr * d for name, d in direction.items()}, 1.0
    leaves = {name: p.detach().requires_grad_() for name, p in theta.items()}
    names = list(leaves)
    loss = problem.train_loss(leaves, labels)
    grads = zeros_for_unused(loss, list(leaves.values()), create_graph=True)

    def hessian_times(u: Params) -> Params:
        dot = sum((g * u[name]).sum() for g, name in zip(grads, names, strict=True))
        products = zeros_for_unused(dot, list(leaves.values()))  # type: ignore[arg-type]
        if problem.ranks is not None:
            problem.ranks.mean_(products)  # equal shards: the global batch's Hessian
        return {name: h.detach() for name, h in zip(names, products, strict=True)}

    term = {name: d.detach() for name, d in direction.items()}
    total = dict(term)
    for _ in range(problem.settings.neumann_terms):
        product = hessian_times(term)
        term = {name: term[name] - problem.inner_lr * product[name] for name in names}
        total = {name: total[name] + term[name] for name in names}
    return {name: problem.inner_lr * v for name, v in total.items()}, 1.0


IMPLICIT = Hypergradient(implicit_direction, exact_sensitivity)
