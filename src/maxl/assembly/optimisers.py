"""The multi-task network's optimiser and the learning-rate schedule both networks follow
(--optimizer, --weight-decay, --lr-schedule)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from maxl.config import TrainConfig
from maxl.errors import MaxlError


def network_optimizer(config: TrainConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """SGD (the paper's) with --momentum, or AdamW with β₁ = --momentum when above 0 (else
    0.9); both with --weight-decay (AdamW's decoupled from the gradient)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        beta1 = config.momentum if config.momentum > 0 else 0.9
        return torch.optim.AdamW(
            params, lr=config.lr, betas=(beta1, 0.999), weight_decay=config.weight_decay
        )
    raise MaxlError(f"unknown --optimizer {config.optimizer!r}; choose sgd or adamw")


def learning_rate_schedule(
    config: TrainConfig, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler:
    """step: times --lr-gamma every --lr-step epochs; cosine: from the initial rate to 0 over
    --epochs (stepped once per epoch)."""
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=config.lr_step, gamma=config.lr_gamma
        )
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    raise MaxlError(f"unknown --lr-schedule {config.lr_schedule!r}; choose step or cosine")
