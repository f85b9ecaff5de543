"""The implicit hypergradient against the same formula built from explicit matrices: the full
Hessian ∇²_θ L_train and the mixed Jacobian ∂²L_train/∂φ∂θ from torch.autograd.functional."""

from __future__ import annotations

import copy

import pytest
import torch
from hypergrad_reference import PSI, reference_focal, relative_error
from torch import nn
from torch.autograd.functional import hessian, jacobian
from torch.func import functional_call

import maxl

INNER_LR, ENTROPY_WEIGHT = 0.3, 0.2


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflat(vector: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for name, p in like.items():
        out[name] = vector[start : start + p.numel()].view_as(p)
        start += p.numel()
    return out


def implicit_by_matrices(net, generator, x, y, x_meta, y_meta, terms: int) -> list[torch.Tensor]:
    """−M^T v + λ∇_φH with v = α Σ_{j≤J} (I − αH)^j d_θ, every matrix written out in full."""
    net, generator = copy.deepcopy(net).train(), copy.deepcopy(generator).train()
    theta = {n: p.detach() for n, p in net.named_parameters()}
    phi = {n: p.detach() for n, p in generator.named_parameters()}
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    gen_buffers = {n: b.clone() for n, b in generator.named_buffers()}
    onehot = nn.functional.one_hot(y, len(PSI)).double()
    onehot_meta = nn.functional.one_hot(y_meta, len(PSI)).double()

    def labels_of(phi_flat):
        params = {**unflat(phi_flat, phi), **{n: b.clone() for n, b in gen_buffers.items()}}
        return functional_call(generator, params, (x, y))

    def train_loss(theta_flat, phi_flat):
        params = {**unflat(theta_flat, theta), **{n: b.clone() for n, b in buffers.items()}}
        primary, aux = functional_call(net, params, (x,))
        return reference_focal(primary, onehot) + reference_focal(aux, labels_of(phi_flat))

    theta0, phi0 = flat(theta.values()), flat(phi.values())
    h = hessian(lambda t: train_loss(t, phi0), theta0)

    def grad_theta(phi_flat):
        t = theta0.clone().requires_grad_()
        return torch.autograd.grad(train_loss(t, phi_flat), t, create_graph=True)[0]

    mixed = jacobian(grad_theta, phi0)  # [P, Q]: ∂(∇_θ L_train)_i / ∂φ_j

    def meta_primary(theta_flat):
        params = {**unflat(theta_flat, theta), **{n: b.clone() for n, b in buffers.items()}}
        primary, _ = functional_call(net, params, (x_meta,))
        return reference_focal(primary, onehot_meta)

    d = torch.autograd.functional.jacobian(meta_primary, theta0)
    step = torch.eye(len(theta0), dtype=torch.float64) - INNER_LR * h
    term, v = d.clone(), d.clone()
    for _ in range(terms):
        term = step @ term
        v = v + term
    v = INNER_LR * v

    def negentropy(phi_flat):
        mean = labels_of(phi_flat).mean(dim=0)
        return (mean * torch.log(mean.clamp_min(1e-300))).sum()

    entropy_grad = torch.autograd.functional.jacobian(negentropy, phi0)
    total = -mixed.T @ v + ENTROPY_WEIGHT * entropy_grad
    return list(unflat(total, phi).values())


@pytest.mark.parametrize("terms", [0, 1, 5])
@pytest.mark.parametrize("held_out", [False, True])
def test_implicit_matches_explicit_hessian_and_mixed_jacobian(problem, terms, held_out):
    net, generator, x, y = problem
    x_meta, y_meta = (x.flip(0) * 0.5 + 0.1, y.flip(0)) if held_out else (x, y)
    expected = implicit_by_matrices(net, generator, x, y, x_meta, y_meta, terms)
    got = maxl.generator_hypergradient(
        net,
        generator,
        x,
        y,
        inner_lr=INNER_LR,
        entropy_weight=ENTROPY_WEIGHT,
        method="implicit",
        meta_batch=(x_meta, y_meta) if held_out else None,
        neumann_terms=terms,
    )
    assert relative_error(got, expected) <= 1e-6


def test_more_terms_change_the_result(problem):
    """J enters the computation: J = 0 and J = 5 differ (the Hessian is not negligible here)."""
    net, generator, x, y = problem
    grads = [
        maxl.generator_hypergradient(
            net, generator, x, y, inner_lr=INNER_LR, method="implicit", neumann_terms=terms
        )
        for terms in (0, 5)
    ]
    assert relative_error(grads[0], grads[1]) > 1e-4


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_neumann_terms_must_be_a_whole_number(problem, bad):
    net, generator, x, y = problem
    with pytest.raises(maxl.MaxlError, match="neumann_terms"):
        maxl.generator_hypergradient(net, generator, x, y, method="implicit", neumann_terms=bad)
