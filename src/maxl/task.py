"""A dataset resolved for one run: primary labels, the training subset, finer labels and ψ."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maxl.data.dataset import ImageDataset
from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy, hierarchy_from_labels


@dataclass(frozen=True)
class Task:
    """The primary task of a run, and the human hierarchy below it when the dataset has one."""

    dataset: ImageDataset
    primary_level: str
    train_indices: torch.Tensor  # rows of dataset.x_train used for training
    y_train: torch.Tensor
    y_test: torch.Tensor
    fine_train: torch.Tensor | None  # finer human labels of the training rows, aux-index layout
    human: Hierarchy | None  # ψ of the human hierarchy

    @property
    def num_primary(self) -> int:
        return int(self.primary_level)

    @property
    def x_train(self) -> torch.Tensor:
        return self.dataset.x_train[self.train_indices]


def resolve_task(
    dataset: ImageDataset,
    primary_level: str | None,
    train_size: int | None,
    seed: int,
    aux_level: str | None = None,
) -> Task:
    """Pick the primary level, a seeded training subset, and a finer level (default: the
    finest) as human labels."""
    level = dataset.default_level if primary_level is None else str(primary_level)
    if level not in dataset.levels:
        raise MaxlError(
            f"dataset {dataset.name} has no level {level!r}; choose --primary-level from "
            + ", ".join(dataset.levels)
        )
    num_train = len(dataset.x_train)
    if train_size is None or train_size >= num_train:
        indices = torch.arange(num_train)
    elif train_size < 1:
        raise MaxlError(f"--train-size must be at least 1, got {train_size}")
    else:
        order = torch.randperm(num_train, generator=torch.Generator().manual_seed(seed))
        indices = order[:train_size].sort().values
    y_train = dataset.labels_train[level][indices]
    finer = dataset.levels[dataset.levels.index(level) + 1 :]
    if aux_level is not None and str(aux_level) not in finer:
        raise MaxlError(
            f"--aux-level {aux_level} is not finer than the primary level {level} of "
            f"{dataset.name}; choose one of {', '.join(finer) or '(none: no finer level)'}"
        )
    human, fine_train = None, None
    if finer:
        fine_level = finer[-1] if aux_level is None else str(aux_level)
        all_fine = torch.cat([dataset.labels_train[fine_level], dataset.labels_test[fine_level]])
        all_primary = torch.cat([dataset.labels_train[level], dataset.labels_test[level]])
        human, fine_to_aux = hierarchy_from_labels(all_primary, all_fine)
        fine_train = fine_to_aux[dataset.labels_train[fine_level][indices]]
    return Task(
        dataset=dataset,
        primary_level=level,
        train_indices=indices,
        y_train=y_train,
        y_test=dataset.labels_test[level],
        fine_train=fine_train,
        human=human,
    )


def choose_psi(
    task: Task, method: str, psi: tuple[int, ...] | None, per_class: int = 5
) -> Hierarchy:
    """ψ for a run: as given (one number: that many per class), else human, else per_class each."""
    if psi is not None:
        values = list(psi) * task.num_primary if len(psi) == 1 else list(psi)
        if len(values) != task.num_primary:
            raise MaxlError(
                f"--psi has {len(values)} entries but the primary task ({task.dataset.name}, "
                f"level {task.primary_level}) has {task.num_primary} classes; give "
                f"{task.num_primary} comma-separated counts or a single number for all"
            )
        hierarchy = Hierarchy(values)
        if method == "human" and task.human is not None and hierarchy != task.human:
            raise MaxlError(
                f"the human hierarchy fixes ψ to {task.human.psi}; drop --psi for --method human"
            )
        return hierarchy
    if task.human is not None:
        return task.human
    return Hierarchy.uniform(task.num_primary, per_class)
