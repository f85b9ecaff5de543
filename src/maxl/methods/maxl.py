"""`maxl`: auxiliary labels from a label generator trained by the meta-gradient."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from maxl.distributed import current
from maxl.hypergrad import MetaProblem, hypergradient_of, meta_gradient
from maxl.hypergrad.common import batch_statistics
from maxl.methods.base import AuxiliaryLabels, Batch
from maxl.models.generator import LabelGenerator


class MetaLabels(AuxiliaryLabels):
    """Generated labels for the multi-task step, and generator steps on L_meta.

    schedule "batches" (fused): per batch, the generator step reuses the iteration's own work,
    the generator forward that gave the targets (kept with its graph) and the multi-task
    gradient in the network's .grad, so only d = ∇_{θ⁺}L_pri(θ⁺), the label sensitivity and one
    generator backward are added; with meta_every = K it steps on every K-th iteration only.
    schedule "epochs" (the paper's Algorithm 1): targets without a graph during the multi-task
    pass, and the engine calls meta_step() over a pass of its own, each step at the current θ.
    In a data-parallel run (built inside torchrun's process group) each rank passes its shard
    and the hypergradient is reduced across ranks to the global batch's (see hypergrad.common).
    """

    name = "maxl"
    meta_learned = True

    def __init__(
        self,
        generator: LabelGenerator,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        *,
        hypergrad: str,
        entropy_weight: float,
        aux_weight: float,
        focal_gamma: float,
        meta_every: int = 1,
        schedule: str = "batches",
        neumann_terms: int = 3,
    ) -> None:
        self.generator = generator
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.hypergradient = hypergradient_of(hypergrad)
        self.entropy_weight = entropy_weight
        self.aux_weight = aux_weight
        self.focal_gamma = focal_gamma
        self.meta_every = meta_every
        self.separate_pass = schedule == "epochs"
        self.neumann_terms = neumann_terms
        self.iteration = 0
        self.ranks = current()
        self.pending: torch.Tensor | None = None  # this iteration's labels, with their graph

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        self.iteration += 1
        if self.separate_pass or (self.iteration - 1) % self.meta_every:
            with torch.no_grad():
                return self.generator(x, y)
        labels = self.generator(x, y)
        self.pending = labels
        return labels.detach()

    @torch.no_grad()
    def labels(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The generator's labels in eval mode (running BatchNorm statistics), no step counted."""
        mode = self.generator.training
        self.generator.eval()
        try:
            return self.generator(x, y)
        finally:
            self.generator.train(mode)

    def problem(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: Batch
    ) -> MetaProblem:
        x_meta, y_meta = (x, y) if meta is None else meta
        return MetaProblem(
            net=net,
            generator=self.generator,
            x=x,
            y=y,
            x_meta=x_meta,
            y_meta=y_meta,
            inner_lr=float(lr),
            entropy_weight=self.entropy_weight,
            aux_weight=self.aux_weight,
            focal_gamma=self.focal_gamma,
            ranks=self.ranks,
            neumann_terms=self.neumann_terms,
        )

    def before_update(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: Batch = None
    ) -> None:
        if self.pending is None:
            return
        labels, self.pending = self.pending, None
        problem = self.problem(net, x, y, lr, meta)
        theta = problem.trainable_net_params()
        train_grad = {
            name: torch.zeros_like(p) if p.grad is None else p.grad for name, p in theta.items()
        }
        with batch_statistics(net):
            grads = meta_gradient(problem, labels, theta, train_grad, self.hypergradient)
        self.apply(grads)

    def meta_step(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: Batch = None
    ) -> None:
        """The paper's generator step: labels of this batch (generator in train mode, as in the
        multi-task pass), ∇_θ L_train and the hypergradient at the network's current θ."""
        problem = self.problem(net, x, y, lr, meta)
        labels = self.generator(x, y)
        theta = problem.trainable_net_params()
        with batch_statistics(net):
            train_grad = problem.train_gradient(theta, labels)
            grads = meta_gradient(problem, labels, theta, train_grad, self.hypergradient)
        self.apply(grads)

    def apply(self, grads: list[torch.Tensor]) -> None:
        """One optimiser step of the generator along `grads`."""
        for p, g in zip(self.generator.parameters(), grads, strict=True):
            p.grad = g
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def end_epoch(self) -> None:
        self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        """The generator, its optimiser and schedule, and the iteration count (for meta_every)."""
        return {
            "generator": self.generator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.iteration = int(state["iteration"])
