"""Pieces every hypergradient method shares: functional forwards that leave running statistics
alone, the multi-task loss, and the step θ⁺ = θ − α∇_θ L_train."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from maxl.errors import MaxlError
from maxl.losses import entropy_regulariser, focal_loss

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class MetaProblem:
    """Everything that defines L_meta(φ) for one batch (DESIGN §1)."""

    net: nn.Module
    generator: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    x_meta: torch.Tensor
    y_meta: torch.Tensor
    inner_lr: float
    entropy_weight: float
    aux_weight: float
    focal_gamma: float

    def trainable_net_params(self) -> Params:
        """θ: the multi-task network's parameters that require grad, by name."""
        return {name: p for name, p in self.net.named_parameters() if p.requires_grad}

    def generator_params(self) -> list[torch.Tensor]:
        """φ: the generator's parameters that require grad, in parameters() order."""
        return [p for p in self.generator.parameters() if p.requires_grad]

    def net_forward(self, params: Params, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f_θ(x) with the given θ and a private copy of the buffers (running stats untouched)."""
        out = functional_call(self.net, {**params, **cloned_buffers(self.net)}, (x,))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise MaxlError(
                "the multi-task network must return (primary_logits, aux_logits) from forward(x)"
            )
        return out[0], out[1]

    def generated_labels(self) -> torch.Tensor:
        """g_φ(x, y), differentiable in φ, with a private copy of the generator's buffers."""
        return functional_call(self.generator, cloned_buffers(self.generator), (self.x, self.y))

    def primary_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, y, self.focal_gamma)

    def aux_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.aux_weight * focal_loss(logits, labels, self.focal_gamma)

    def entropy_term(self, labels: torch.Tensor) -> torch.Tensor:
        return self.entropy_weight * entropy_regulariser(labels)

    def inner_step(
        self, theta: Params, labels: torch.Tensor, *, create_graph: bool
    ) -> tuple[list[torch.Tensor], Params]:
        """∇_θ L_train(θ, labels) (with its graph if create_graph) and θ⁺ = θ − α∇_θ L_train."""
        primary_logits, aux_logits = self.net_forward(theta, self.x)
        train_loss = self.primary_loss(primary_logits, self.y) + self.aux_loss(aux_logits, labels)
        grad_theta = zeros_for_unused(train_loss, list(theta.values()), create_graph=create_graph)
        theta_plus = {
            name: p.detach() - self.inner_lr * g.detach()
            for (name, p), g in zip(theta.items(), grad_theta, strict=True)
        }
        return grad_theta, theta_plus

    def meta_direction(self, theta_plus: Params) -> Params:
        """d = ∇_{θ⁺} L_pri(θ⁺; x', y'), zero for parameters the primary loss does not reach."""
        leaves = {name: p.detach().requires_grad_() for name, p in theta_plus.items()}
        primary_logits, _ = self.net_forward(leaves, self.x_meta)
        loss = self.primary_loss(primary_logits, self.y_meta)
        return dict(zip(leaves, zeros_for_unused(loss, list(leaves.values())), strict=True))


def zeros_for_unused(
    output: torch.Tensor, inputs: Sequence[torch.Tensor], *, create_graph: bool = False
) -> list[torch.Tensor]:
    """autograd.grad with a zero tensor (not None) for inputs that `output` does not depend on."""
    if not inputs:
        return []
    if not output.requires_grad:
        return [torch.zeros_like(p) for p in inputs]
    grads = torch.autograd.grad(
        output, list(inputs), allow_unused=True, create_graph=create_graph, retain_graph=True
    )
    return [torch.zeros_like(p) if g is None else g for p, g in zip(inputs, grads, strict=True)]


def cloned_buffers(module: nn.Module) -> Params:
    """Copies of a module's buffers, so that a forward in train mode updates the copies only."""
    return {name: b.clone() for name, b in module.named_buffers()}


def is_batch_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


@contextmanager
def batch_statistics(*modules: nn.Module) -> Iterator[None]:
    """Make every BatchNorm layer use batch statistics for the duration, then restore its mode."""
    norms = [m for module in modules for m in module.modules() if is_batch_norm(m)]
    modes = [m.training for m in norms]
    try:
        for m in norms:
            m.training = True
        yield
    finally:
        for m, mode in zip(norms, modes, strict=True):
            m.training = mode


def full_generator_gradient(problem: MetaProblem, grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """Spread gradients for the trainable φ back over generator.parameters(), zeros for frozen."""
    trainable = iter(grads)
    return [
        next(trainable).detach() if p.requires_grad else torch.zeros_like(p)
        for p in problem.generator.parameters()
    ]
