"""Pieces every hypergradient method shares: functional forwards that leave running statistics
alone, the multi-task gradient, the step θ⁺ = θ − α∇_θ L_train, and the final generator backward.

Every method rests on one identity. L_train is linear in the generated labels t, with
∂L_train/∂t_nk = (w/N)·c_nk(θ), c = the focal cost of the auxiliary logits. So

    ∇_φ L_meta = ∇_φ [ −α Σ_nk t_nk(φ)·s_nk + λH(t(φ)) ],   s_nk = (w/N)·⟨∇_θ c_nk(θ), d⟩,

with d = ∇_{θ⁺} L_pri(θ⁺; x'). A method gives a direction in θ-space and the label sensitivity
s along it: `exact` and `finite-difference` take d at θ⁺ (scaled by α) with s by a forward-mode
Jacobian-vector product or by a central difference; `implicit` takes the Neumann-series vector
v = α Σ_j (I − α∇²_θ L_train)^j ∇_θ L_pri(θ; x') (scale 1) with the exact s along it.

With a meta depth K (`meta_problem`) θ is the top K blocks and the heads alone: the problem's
network is that upper part and its inputs are the features below it, computed once, so every
method runs unchanged over the top blocks (the exact hypergradient of the network with its
lower blocks frozen).

In a data-parallel run (`ranks` set) each rank holds an equal shard of the global batch: d is
averaged over ranks, N in s is the global batch size, ȳ of the entropy regulariser is the global
mean, and the generator gradients of the shards are summed, so the result is the one-process
hypergradient of the global batch (exactly so with the global BatchNorm of `--sync-bn`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from maxl.distributed import Ranks
from maxl.errors import MaxlError
from maxl.hypergrad.settings import MetaSettings
from maxl.losses import entropy_regulariser, focal_loss, focal_terms, label_entropy
from maxl.models.blocks import DepthSplit, split_at_depth
from maxl.phases import phase

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
    settings: MetaSettings
    ranks: Ranks | None = None  # data-parallel: x, y, x_meta, y_meta are this rank's shards

    @property
    def world_size(self) -> int:
        return 1 if self.ranks is None else self.ranks.world_size

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

    def primary_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, y, self.settings.focal_gamma)

    def label_weights(self, aux_logits: torch.Tensor) -> torch.Tensor:
        """∂L_train/∂t: (w/N)·focal cost per sample and auxiliary class, [N, K] (N: the global
        batch size, for this rank's rows)."""
        batch_size = len(aux_logits) * self.world_size
        weight, gamma = self.settings.aux_weight, self.settings.focal_gamma
        return weight / batch_size * focal_terms(aux_logits, gamma)

    def train_loss(self, theta: Params, labels: torch.Tensor) -> torch.Tensor:
        """L_train(θ, labels) on this rank's rows, the labels held fixed."""
        primary_logits, aux_logits = self.net_forward(theta, self.x)
        check_aux_width(aux_logits, labels)
        weight, gamma = self.settings.aux_weight, self.settings.focal_gamma
        return self.primary_loss(primary_logits, self.y) + weight * focal_loss(
            aux_logits, labels.detach(), gamma
        )

    def train_gradient(self, theta: Params, labels: torch.Tensor) -> Params:
        """∇_θ L_train(θ, labels) with the labels held fixed, no graph (data-parallel: of the
        global batch)."""
        grads = zeros_for_unused(self.train_loss(theta, labels), list(theta.values()))
        if self.ranks is not None:
            self.ranks.mean_(grads)
        return dict(zip(theta, grads, strict=True))

    def meta_direction(self, theta_plus: Params) -> Params:
        """d = ∇_{θ⁺} L_pri(θ⁺; x', y'), zero for parameters the primary loss does not reach."""
        leaves = {name: p.detach().requires_grad_() for name, p in theta_plus.items()}
        primary_logits, _ = self.net_forward(leaves, self.x_meta)
        loss = self.primary_loss(primary_logits, self.y_meta)
        direction = zeros_for_unused(loss, list(leaves.values()))
        if self.ranks is not None:
            self.ranks.mean_(direction)  # equal shards: the mean of shard means is the global one
        return dict(zip(leaves, direction, strict=True))

    def entropy(self, labels: torch.Tensor) -> torch.Tensor:
        """H(φ) (without λ) of the batch-mean labels ȳ. Data-parallel: ȳ is the global mean,
        with a gradient through this rank's rows only, so the ranks' gradients sum to the
        global one."""
        if self.ranks is None:
            return entropy_regulariser(labels)
        local = labels.sum(dim=0)
        others = self.ranks.sum(local) - local.detach()
        mean = (local + others) / (len(labels) * self.world_size)
        return entropy_regulariser(mean.unsqueeze(0))

    def confidence(self, labels: torch.Tensor) -> torch.Tensor:
        """C(φ) (without λ_c): the mean entropy of each image's labels over the global batch;
        data-parallel, this rank's rows carry the global 1/N, so the ranks' gradients sum."""
        return label_entropy(labels) / self.world_size


def check_aux_width(aux: torch.Tensor, labels: torch.Tensor) -> None:
    """The auxiliary head's K (of logits or sensitivities) must be the generator's."""
    if aux.shape[-1] != labels.shape[-1]:
        raise MaxlError(
            f"the network's auxiliary head gives {aux.shape[-1]} classes but the generator's "
            f"labels have {labels.shape[-1]}; give both K = sum(ψ) outputs"
        )


def meta_problem(
    net: nn.Module,
    generator: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    meta_batch: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    inner_lr: float,
    settings: MetaSettings,
    ranks: Ranks | None = None,
) -> MetaProblem:
    """The MetaProblem of one batch (meta_batch None: L_meta on the batch itself). With
    settings.meta_depth K the problem's network is the top K blocks and the heads of `net`
    alone, and its inputs are the features below them, computed here once with batch
    statistics: θ⁺ leaves the lower blocks as they are, so d, the label sensitivity and the
    finite differences run over the top blocks only (see maxl.models.blocks). A network that cannot
    be cut is differentiated whole, with a warning."""
    x_meta, y_meta = (x, y) if meta_batch is None else meta_batch
    meta_depth = settings.meta_depth
    split = split_at_depth(net, meta_depth)
    if split is None and meta_depth is not None:
        warnings.warn(  # Python shows it once per place it is issued from
            f"meta_depth={meta_depth}: {type(net).__name__} is not a maxl MultiTaskNet over a "
            "backbone that declares blocks(), so the meta-gradient runs through all of it",
            stacklevel=3,
        )
    if split is not None:
        with phase("features below the top blocks"), torch.no_grad(), batch_statistics(net):
            features = lower_features(split, x)
            features_meta = features if meta_batch is None else lower_features(split, x_meta)
        net, x, x_meta = split.upper, features, features_meta
    return MetaProblem(
        net=net,
        generator=generator,
        x=x,
        y=y,
        x_meta=x_meta,
        y_meta=y_meta,
        inner_lr=float(inner_lr),
        settings=settings,
        ranks=ranks,
    )


def lower_features(split: DepthSplit, x: torch.Tensor) -> torch.Tensor:
    """The features entering the top blocks, with a private copy of the running statistics."""
    return functional_call(split.lower, cloned_buffers(split.lower), (x,))


def generated_labels(generator: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """g_φ(x, y), differentiable in φ, with a private copy of the generator's buffers."""
    return functional_call(generator, cloned_buffers(generator), (x, y))


Sensitivity = Callable[[MetaProblem, Params, Params], torch.Tensor]
# (problem, θ, ∇_θ L_train at θ, labels) -> (direction v, scale): ∇_φ L_meta = −scale·Σ t·s(v) + λ∇H
Direction = Callable[[MetaProblem, Params, Params, torch.Tensor], tuple[Params, float]]


@dataclass(frozen=True)
class Hypergradient:
    """A hypergradient method: the direction in θ-space, and the label sensitivity along it."""

    direction: Direction
    sensitivity: Sensitivity


def one_step_direction(
    problem: MetaProblem, theta: Params, train_grad: Params, labels: torch.Tensor
) -> tuple[Params, float]:
    """d = ∇_{θ⁺} L_pri(θ⁺; x') at θ⁺ = θ − α∇_θ L_train, with scale α (DESIGN §1)."""
    theta_plus = {
        name: p.detach() - problem.inner_lr * train_grad[name].detach() for name, p in theta.items()
    }
    return problem.meta_direction(theta_plus), problem.inner_lr


def meta_gradient(
    problem: MetaProblem,
    labels: torch.Tensor,
    theta: Params,
    train_grad: Params,
    method: Hypergradient,
) -> list[torch.Tensor]:
    """∇_φ L_meta from the generated labels (with their graph in φ), θ and ∇_θ L_train at θ.

    Callers that already ran the multi-task step pass its labels and gradient, so neither the
    generator nor the network runs a second time for them.
    """
    with phase("direction"):
        direction, scale = method.direction(problem, theta, train_grad, labels)
    with phase("label sensitivity"):
        s = method.sensitivity(problem, theta, direction)
    check_aux_width(s, labels)
    with phase("generator backward"):
        meta = -scale * (labels * s.detach()).sum()
        settings = problem.settings
        meta = meta + settings.entropy_weight * problem.entropy(labels)
        if settings.confidence_weight:
            meta = meta + settings.confidence_weight * problem.confidence(labels)
        grads = iter(zeros_for_unused(meta, problem.generator_params()))
    result = [
        next(grads).detach() if p.requires_grad else torch.zeros_like(p)
        for p in problem.generator.parameters()
    ]
    if problem.ranks is not None:
        problem.ranks.sum_(result)  # each rank's terms already carry the global 1/N
    return result


def shifted(theta: Params, direction: Params, eps: torch.Tensor | float) -> Params:
    """θ + ε·d, detached."""
    return {name: p.detach() + eps * direction[name] for name, p in theta.items()}


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
