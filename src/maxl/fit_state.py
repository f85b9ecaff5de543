"""`FitState`: the read-only view of a run that callbacks, the analysis and checkpoints take,
so that they need not import the engine that calls them (data flows engine → callbacks)."""

from __future__ import annotations

from typing import Protocol

import torch

from maxl.config import TrainConfig
from maxl.data.streamed import Inputs
from maxl.hierarchy import Hierarchy
from maxl.methods.base import AuxiliaryLabels
from maxl.models import MultiTaskNet
from maxl.task import Task


class FitState(Protocol):
    """The read-only view of a training run that callbacks get: its options, task, networks,
    optimisation and the training images on the device (uint8, normalised per batch with `mean`
    and `std`). The others: `AssembledRun` holds the live objects behind it, `SavedRun` is a run
    folder read back from disk, `FitResult` what maxl.fit returns."""

    @property
    def config(self) -> TrainConfig: ...
    @property
    def task(self) -> Task: ...
    @property
    def hierarchy(self) -> Hierarchy: ...
    @property
    def net(self) -> MultiTaskNet: ...
    @property
    def method(self) -> AuxiliaryLabels: ...
    @property
    def optimizer(self) -> torch.optim.Optimizer: ...
    @property
    def scheduler(self) -> torch.optim.lr_scheduler.LRScheduler: ...
    @property
    def x_train(self) -> Inputs: ...
    @property
    def y_train(self) -> torch.Tensor: ...
    @property
    def mean(self) -> torch.Tensor: ...
    @property
    def std(self) -> torch.Tensor: ...
    @property
    def rng(self) -> torch.Generator: ...
