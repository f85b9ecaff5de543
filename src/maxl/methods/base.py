"""The one thing the baselines differ in: where the auxiliary labels of a batch come from."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from maxl.types import MetaBatch


class AuxiliaryLabels(ABC):
    """A source of auxiliary labels for the multi-task network; methods plug in here."""

    name: str
    # Labels learned from a meta objective: the engine supplies meta batches (--meta-data) and,
    # with separate_pass, runs a pass of meta_step() calls after each epoch's multi-task pass.
    meta_learned: bool = False
    separate_pass: bool = False

    @abstractmethod
    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor | None:
        """Auxiliary targets of a batch (class indices [N] or probabilities [N, K], no graph),
        or None for no auxiliary loss. `rows` are the batch's indices into the training set."""

    def labels(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor | None:
        """The current auxiliary labels of these images, like targets() but changing no state
        (for analysis). Methods whose targets() has side effects override it."""
        return self.targets(x, y, rows)

    def before_update(  # noqa: B027 (an optional hook)
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: MetaBatch = None
    ) -> None:
        """Hook between the multi-task backward and the optimiser step, while net's .grad holds
        ∇_θ L_train of this batch at the current θ (MAXL trains its generator here). `meta` is
        the batch (x', y') of the meta objective, None for this same batch."""

    def meta_step(  # noqa: B027 (an optional hook)
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, meta: MetaBatch = None
    ) -> None:
        """One step of a separate pass (separate_pass): the method's own networks trained on
        the batch (x, y) at the network's current θ, meta objective on `meta` (None: x, y)."""

    def end_epoch(self) -> None:  # noqa: B027 (an optional hook)
        """Hook after each epoch (learning-rate schedules of the method's own networks)."""
