"""`maxl`: auxiliary labels from a label generator trained by the meta-gradient."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from maxl.labeler import MetaLabeler
from maxl.methods.base import AuxiliaryLabels
from maxl.types import MetaBatch


class LearnedLabels(AuxiliaryLabels):
    """The engine's MAXL: a MetaLabeler (the public object) and its learning-rate schedule.

    schedule "batches" (fused): per batch, the generator step reuses the iteration's own work,
    the generator forward that gave the targets and the multi-task gradient in the network's
    .grad, so only d = ∇_{θ⁺}L_pri(θ⁺), the label sensitivity and one generator backward are
    added; with meta_every = K it steps on every K-th iteration only. schedule "epochs" (the
    paper's Algorithm 1): targets without a graph during the multi-task pass, and the engine
    calls meta_step() over a pass of its own, each step at the current θ. In a data-parallel
    run each rank passes its shard and the hypergradient is reduced across ranks.
    """

    name = "maxl"
    meta_learned = True

    def __init__(
        self,
        labeler: MetaLabeler,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        *,
        schedule: str = "batches",
    ) -> None:
        self.labeler = labeler
        self.scheduler = scheduler
        self.separate_pass = schedule == "epochs"

    @property
    def generator(self) -> nn.Module:
        return self.labeler.generator

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.labeler.optimizer

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        if self.separate_pass:
            with torch.no_grad():
                return self.generator(x, y)
        return self.labeler.targets(x, y)

    def labels(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The generator's labels in eval mode (running BatchNorm statistics), no step counted."""
        return self.labeler.labels(x, y)

    def before_update(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: MetaBatch = None
    ) -> None:
        if not self.separate_pass:
            self.labeler.step(net, x, y, lr, meta)

    def meta_step(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: MetaBatch = None
    ) -> None:
        self.labeler.meta_step(net, x, y, lr, meta)

    def end_epoch(self) -> None:
        self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        """The labeler (generator, optimiser, iteration count) and the schedule."""
        return {**self.labeler.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labeler.load_state_dict(state)
        self.scheduler.load_state_dict(state["scheduler"])
