"""The method registry: each `--method` name and the factory that builds its auxiliary-label
source from a configuration, the task, ψ and a backbone factory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

import torch
from torch import nn

from maxl.assembly.optimisers import learning_rate_schedule
from maxl.config import TrainConfig
from maxl.data.streamed import StreamedInputs
from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy
from maxl.hypergrad import MetaSettings
from maxl.labeler import MetaLabeler
from maxl.methods import (
    AuxiliaryLabels,
    HumanLabels,
    KMeansLabels,
    LearnedLabels,
    RandomLabels,
    SingleTask,
)
from maxl.models.generator import LabelGenerator
from maxl.task import Task

BackboneFactory = Callable[[], tuple[nn.Module, int]]  # a fresh backbone and its feature size


@dataclass(frozen=True)
class MethodInputs:
    """What a method's factory may use: the settings, the task, ψ, the device, and the
    backbone factories of the network and of MAXL's generator (by default the same)."""

    config: TrainConfig
    task: Task
    hierarchy: Hierarchy
    backbone: BackboneFactory
    device: torch.device
    generator_backbone: BackboneFactory


MethodFactory = Callable[[MethodInputs], AuxiliaryLabels]


def single_method(inputs: MethodInputs) -> AuxiliaryLabels:
    return SingleTask()


def random_method(inputs: MethodInputs) -> AuxiliaryLabels:
    return RandomLabels(inputs.task.y_train, inputs.hierarchy, inputs.config.seed, inputs.device)


def kmeans_method(inputs: MethodInputs) -> AuxiliaryLabels:
    config, task = inputs.config, inputs.task
    images = task.x_train  # k-means clusters every input at once: a stream is read whole
    return KMeansLabels(
        images.load_all() if isinstance(images, StreamedInputs) else images,
        task.y_train,
        inputs.hierarchy,
        inputs.device,
        seed=config.seed,
        epochs=config.kmeans_epochs,
        code_dim=config.kmeans_code_dim,
    )


def human_method(inputs: MethodInputs) -> AuxiliaryLabels:
    task = inputs.task
    if task.fine_train is None:
        raise MaxlError(
            f"--method human needs finer labels than level {task.primary_level} of "
            f"{task.dataset.name}; choose a coarser --primary-level (levels: "
            f"{', '.join(task.dataset.levels)}) or another method"
        )
    return HumanLabels(task.fine_train.to(inputs.device))


def maxl_method(inputs: MethodInputs) -> AuxiliaryLabels:
    config = inputs.config
    trunk, feature_dim = inputs.generator_backbone()
    generator = LabelGenerator(trunk, feature_dim, inputs.hierarchy).to(inputs.device)
    optimizer = generator_optimizer(config, generator.parameters())
    scheduler = learning_rate_schedule(config, optimizer)
    labeler = MetaLabeler(
        generator, optimizer, settings=meta_settings(config), meta_every=config.meta_every
    )
    return LearnedLabels(labeler, scheduler, schedule=config.schedule)


def meta_settings(config: TrainConfig) -> MetaSettings:
    """The meta objective's settings of a configuration (the options of the same names),
    checked by MetaSettings itself."""
    return MetaSettings(
        **{field.name: getattr(config, field.name) for field in fields(MetaSettings)}
    )


METHODS: dict[str, MethodFactory] = {
    "single": single_method,
    "random": random_method,
    "kmeans": kmeans_method,
    "human": human_method,
    "maxl": maxl_method,
}
METHOD_NAMES = tuple(METHODS)


def build_method(
    config: TrainConfig,
    task: Task,
    hierarchy: Hierarchy,
    backbone_factory: BackboneFactory,
    device: torch.device,
    generator_backbone: BackboneFactory | None = None,
) -> AuxiliaryLabels:
    """The auxiliary-label source named by config.method, ready to train on `device`; MAXL's
    generator trunk comes from `generator_backbone` (default: `backbone_factory`)."""
    if config.method not in METHODS:
        raise MaxlError(
            f"unknown method {config.method!r}; choose one of {', '.join(METHOD_NAMES)}"
        )
    inputs = MethodInputs(
        config, task, hierarchy, backbone_factory, device, generator_backbone or backbone_factory
    )
    return METHODS[config.method](inputs)


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
