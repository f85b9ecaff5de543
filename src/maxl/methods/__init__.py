"""Where the auxiliary labels come from: one module per baseline of the paper."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy
from maxl.labeler import MetaLabeler
from maxl.methods.base import AuxiliaryLabels
from maxl.methods.human import HumanLabels
from maxl.methods.kmeans import KMeansLabels
from maxl.methods.maxl import MetaLabels
from maxl.methods.random_labels import RandomLabels
from maxl.methods.single import SingleTask
from maxl.models.generator import LabelGenerator
from maxl.task import Task

METHOD_NAMES = ("single", "random", "kmeans", "human", "maxl")


def build_method(
    config: TrainConfig,
    task: Task,
    hierarchy: Hierarchy,
    backbone_factory: Callable[[], tuple[nn.Module, int]],
    device: torch.device,
) -> AuxiliaryLabels:
    """The auxiliary-label source named by config.method, ready to train on `device`."""
    if config.method == "single":
        return SingleTask()
    if config.method == "random":
        return RandomLabels(task.y_train, hierarchy, config.seed, device)
    if config.method == "kmeans":
        return KMeansLabels(
            task.x_train,
            task.y_train,
            hierarchy,
            device,
            seed=config.seed,
            epochs=config.kmeans_epochs,
            code_dim=config.kmeans_code_dim,
        )
    if config.method == "human":
        if task.fine_train is None:
            raise MaxlError(
                f"--method human needs finer labels than level {task.primary_level} of "
                f"{task.dataset.name}; choose a coarser --primary-level (levels: "
                f"{', '.join(task.dataset.levels)}) or another method"
            )
        return HumanLabels(task.fine_train.to(device))
    if config.method == "maxl":
        backbone, feature_dim = backbone_factory()
        generator = LabelGenerator(backbone, feature_dim, hierarchy).to(device)
        optimizer = generator_optimizer(config, generator.parameters())
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=config.lr_step, gamma=config.lr_gamma
        )
        labeler = MetaLabeler(
            generator,
            optimizer,
            hypergrad=config.hypergrad,
            entropy_weight=config.entropy_weight,
            aux_weight=config.aux_weight,
            focal_gamma=config.focal_gamma,
            neumann_terms=config.neumann_terms,
            meta_every=config.meta_every,
        )
        return MetaLabels(labeler, scheduler, schedule=config.schedule)
    raise MaxlError(f"unknown method {config.method!r}; choose one of {', '.join(METHOD_NAMES)}")


def generator_optimizer(
    config: TrainConfig, params: Iterable[nn.Parameter]
) -> torch.optim.Optimizer:
    """--gen-optimizer: SGD (the paper's, with --gen-momentum) or Adam (β₁ = --gen-momentum
    when given, else Adam's 0.9), both with --gen-weight-decay."""
    if config.gen_optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.gen_lr,
            momentum=config.gen_momentum,
            weight_decay=config.gen_weight_decay,
        )
    if config.gen_optimizer == "adam":
        beta1 = config.gen_momentum if config.gen_momentum > 0 else 0.9
        return torch.optim.Adam(
            params, lr=config.gen_lr, betas=(beta1, 0.999), weight_decay=config.gen_weight_decay
        )
    raise MaxlError(f"unknown --gen-optimizer {config.gen_optimizer!r}; choose sgd or adam")


__all__ = ["METHOD_NAMES", "AuxiliaryLabels", "build_method", "generator_optimizer"]
