"""Exact (second-order) hypergradient by one forward-mode Jacobian-vector product.

The mixed term −α(∂²L_train/∂φ∂θ)·d needs s = (w/N)·J_θ c(θ)·d, the derivative of every
per-sample focal cost along d (see `common`). Forward mode gives it in one pass at θ with dual
parameters: about the cost of a training step, and no graph of a backward pass is ever built.
"""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwad

from maxl.errors import MaxlError
from maxl.hypergrad.common import Hypergradient, MetaProblem, Params, one_step_direction


def exact_sensitivity(problem: MetaProblem, theta: Params, direction: Params) -> torch.Tensor:
    """s = d/dε [(w/N)·c(θ + εd)] at ε = 0, exactly, [N, K]."""
    try:
        with torch.no_grad(), fwad.dual_level():
            dual = {name: fwad.make_dual(p.detach(), direction[name]) for name, p in theta.items()}
            _, aux_logits = problem.net_forward(dual, problem.x)
            weights = fwad.unpack_dual(problem.label_weights(aux_logits))
    except (NotImplementedError, RuntimeError) as error:
        if "forward" not in str(error).lower() and "dual" not in str(error).lower():
            raise
        raise MaxlError(
            f"the multi-task network uses an operation without a forward-mode derivative "
            f"({str(error).splitlines()[0]}); use --hypergrad finite-difference"
        ) from error
    if weights.tangent is None:  # θ does not reach the auxiliary head
        return torch.zeros_like(weights.primal)
    return weights.tangent


EXACT = Hypergradient(one_step_direction, exact_sensitivity)
