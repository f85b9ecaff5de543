"""`maxl.MetaLabeler`: MAXL's label generator and its meta-gradient step, for any training loop.

Per batch: `targets(x, y)` before the multi-task forward, the user's own loss and backward, then
`step(net, x, y, lr=...)` between `loss.backward()` and `optimizer.step()`, while net's .grad
holds ∇_θ L_train: the step reuses that gradient and the generator forward of `targets`. For
the paper's schedule (a generator pass after each epoch) `meta_step` needs no .grad. This is
the object `maxl train` itself uses (methods/maxl.py wraps it with its learning-rate schedule).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from maxl.distributed import current
from maxl.errors import MaxlError
from maxl.hypergrad import (
    HYPERGRADIENT_METHODS,
    MetaProblem,
    MetaSettings,
    generator_hypergradient,
    meta_gradient,
    meta_problem,
)
from maxl.hypergrad.common import batch_statistics
from maxl.hypergrad.settings import settings_with
from maxl.types import MetaBatch


class MetaLabeler:
    """Soft auxiliary labels from `generator` (forward(x, y) -> probabilities [N, K]), trained by
    `optimizer` on L_meta with the hypergradient method `hypergrad` (exact, finite-difference,
    implicit).

    The contract: the meta-gradient differentiates one SGD step of size `lr` on the training
    loss focal(primary_logits, y; γ) + aux_weight · focal(aux_logits, targets; γ), with
    γ = `focal_gamma` (0: cross-entropy, `maxl.focal_loss(..., gamma=0)`) and `aux_weight` as
    given here: your loop's loss must be exactly that, or the generator follows the gradient of
    another objective. The network's auxiliary head must have the generator's K outputs (a
    mismatch is one clear error at the first step).

    `meta_every` = K steps the generator on every K-th batch only; `meta_depth` = K
    differentiates through the top K blocks of the network's trunk (and its heads) only;
    `confidence_weight` = λ_c adds the mean per-image label entropy to L_meta. `settings`
    (a MetaSettings) gives these settings as one object; each keyword given (not None) takes
    the place of its field."""

    def __init__(
        self,
        generator: nn.Module,
        optimizer: torch.optim.Optimizer,
        hypergrad: str | None = None,
        entropy_weight: float | None = None,
        *,
        aux_weight: float | None = None,
        focal_gamma: float | None = None,
        neumann_terms: int | None = None,
        meta_every: int = 1,
        meta_depth: int | None = None,
        confidence_weight: float | None = None,
        settings: MetaSettings | None = None,
    ) -> None:
        if not isinstance(generator, nn.Module):
            raise MaxlError(
                f"MetaLabeler needs the generator as an nn.Module, got {type(generator).__name__}"
            )
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise MaxlError(
                "MetaLabeler needs a torch optimizer over the generator's parameters, got "
                f"{type(optimizer).__name__}; e.g. torch.optim.SGD(generator.parameters(), 1e-3)"
            )
        if meta_every < 1:
            raise MaxlError(f"MetaLabeler: meta_every must be >= 1, got {meta_every}")
        self.settings = settings_with(settings, locals())
        self.generator = generator
        self.optimizer = optimizer
        self.meta_every = meta_every
        self.iteration = 0  # targets() calls so far
        self.ranks = current()  # data-parallel: reduce the hypergradient across ranks
        self.pending: torch.Tensor | None = None  # the labels of a due step, with their graph
        self.awaiting_step = False

    def targets(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Detached soft auxiliary labels [N, K] of this batch, for the user's auxiliary loss."""
        self.iteration += 1
        self.awaiting_step = True
        if (self.iteration - 1) % self.meta_every:
            self.pending = None
            with torch.no_grad():
                return self.generator(x, y)
        labels = self.generator(x, y)
        self.pending = labels
        return labels.detach()

    @torch.no_grad()
    def labels(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The generator's current labels in eval mode (running statistics), no step counted."""
        mode = self.generator.training
        self.generator.eval()
        try:
            return self.generator(x, y)
        finally:
            self.generator.train(mode)

    def step(
        self,
        net: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        lr: float,
        meta_batch: MetaBatch = None,
    ) -> None:
        """The generator step of this batch, from net's .grad (∇_θ L_train at the current θ,
        after loss.backward() and before the optimiser step); `lr` is net's SGD learning rate,
        the meta step size α; `meta_batch` (x', y') scores L_meta (default: this batch)."""
        if not self.awaiting_step:
            raise MaxlError(
                "MetaLabeler.step came without targets(x, y) on this batch; call targets "
                "before the multi-task forward, then loss.backward(), then step"
            )
        self.awaiting_step = False
        if self.pending is None:  # meta_every: not this batch
            return
        labels, self.pending = self.pending, None
        problem = self.problem(net, x, y, lr, meta_batch)
        theta = problem.trainable_net_params()
        if all(p.grad is None for p in theta.values()):
            raise MaxlError(
                "MetaLabeler.step: the network has no gradients; call loss.backward() on the "
                "multi-task loss before step (and optimizer.step() after it)"
            )
        train_grad = {
            name: torch.zeros_like(p) if p.grad is None else p.grad for name, p in theta.items()
        }
        hypergradient = HYPERGRADIENT_METHODS[self.settings.hypergrad]
        with batch_statistics(net):
            grads = meta_gradient(problem, labels, theta, train_grad, hypergradient)
        self.apply(grads)

    def meta_step(
        self,
        net: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        lr: float,
        meta_batch: MetaBatch = None,
    ) -> None:
        """A generator step on its own (the paper's generator pass): labels of this batch
        (generator in train mode), ∇_θ L_train and the hypergradient at net's current θ: the
        generator's forward updates its running statistics, as a training forward does."""
        labels = self.generator(x, y)
        grads = generator_hypergradient(
            net,
            self.generator,
            x,
            y,
            lr,
            meta_batch=meta_batch,
            settings=self.settings,
            labels=labels,
            ranks=self.ranks,
        )
        self.apply(grads)

    def problem(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: MetaBatch
    ) -> MetaProblem:
        return meta_problem(
            net, self.generator, x, y, meta, inner_lr=lr, settings=self.settings, ranks=self.ranks
        )

    def apply(self, grads: list[torch.Tensor]) -> None:
        """One optimiser step of the generator along `grads`."""
        for p, g in zip(self.generator.parameters(), grads, strict=True):
            p.grad = g
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        """The generator, its optimiser and the batch count (for meta_every)."""
        return {
            "generator": self.generator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
