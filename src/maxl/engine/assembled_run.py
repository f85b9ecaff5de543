"""`AssembledRun`: the built objects of one run that the engine trains, in a module of its own
so that the engine's loop, sampling and saving all take it without importing one another."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from maxl.config import TrainConfig
from maxl.data.streamed import Inputs
from maxl.distributed import Ranks
from maxl.hierarchy import Hierarchy
from maxl.methods.base import AuxiliaryLabels
from maxl.models.multitask import MultiTaskNet
from maxl.task import Task


@dataclass
class AssembledRun:
    """The live objects of one run (networks, labels, data, optimisers) while it trains, built by
    maxl.assembly.assemble_run and handed to the engine's loop. The others: `FitState` is the
    read-only view of them that callbacks get, `SavedRun` a run folder read back from disk,
    `FitResult` what maxl.fit returns."""

    config: TrainConfig
    task: Task
    hierarchy: Hierarchy
    net: MultiTaskNet
    method: AuxiliaryLabels
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    x_train: Inputs  # in memory on the device, or streamed from a Dataset
    y_train: torch.Tensor
    x_test: Inputs
    y_test: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    rng: torch.Generator
    crop_pad: int  # 0: no random crop
    flip: bool  # random horizontal flips
    ranks: Ranks | None = None  # data-parallel: this process's place among the ranks
    trainer: nn.Module | None = None  # what the multi-task step calls (DDP wrapper), else net
    x_val: Inputs | None = None  # --val-fraction: held-out training images
    y_val: torch.Tensor | None = None
    train_rows: torch.Tensor | None = None  # rows of the multi-task steps (None: all)
    holdout_rows: torch.Tensor | None = None  # --meta-data holdout:F: rows of L_meta only
    meta_kind: str = "same"  # where L_meta's batches come from: same, next or holdout
    backbone_name: str = ""  # the trunk's name, or "user:CLASS" for the user's own
