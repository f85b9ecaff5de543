"""`maxl`: auxiliary labels from a label generator trained by the meta-gradient."""

from __future__ import annotations

import torch

from maxl.hypergrad import generator_hypergradient
from maxl.methods.base import AuxiliaryLabels
from maxl.models.generator import LabelGenerator


class MetaLabels(AuxiliaryLabels):
    """Generated labels for the multi-task step, then one generator step on L_meta."""

    name = "maxl"

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
    ) -> None:
        self.generator = generator
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.hypergrad = hypergrad
        self.entropy_weight = entropy_weight
        self.aux_weight = aux_weight
        self.focal_gamma = focal_gamma

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.generator(x, y)

    def after_step(self, net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        grads = generator_hypergradient(
            net,
            self.generator,
            x,
            y,
            inner_lr=lr,
            entropy_weight=self.entropy_weight,
            method=self.hypergrad,
            aux_weight=self.aux_weight,
            focal_gamma=self.focal_gamma,
        )
        for p, g in zip(self.generator.parameters(), grads, strict=True):
            p.grad = g
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def end_epoch(self) -> None:
        self.scheduler.step()
