"""A dataset resolved for one run: primary labels, the training subset, finer labels and ψ."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from maxl.data.dataset import ImageDataset
from maxl.data.streamed import Inputs, rows_of
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
    val_indices: torch.Tensor | None = None  # rows of dataset.x_train held out for validation

    @property
    def num_primary(self) -> int:
        return int(self.primary_level)

    @property
    def x_train(self) -> Inputs:
        return rows_of(self.dataset.x_train, self.train_indices)

    @property
    def x_val(self) -> Inputs | None:
        """The validation inputs: held out by --val-fraction, else the dataset's own."""
        if self.val_indices is None:
            return self.dataset.x_val
        return rows_of(self.dataset.x_train, self.val_indices)

    @property
    def y_val(self) -> torch.Tensor | None:
        if self.val_indices is None:
            return self.dataset.y_val
        return self.dataset.labels_train[self.primary_level][self.val_indices]


def split_rows(
    count: int, fraction: float, seed: int, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions 0..count-1 split into (kept, held out): a seeded `fraction` held out, at least
    one row on each side; `what` names the option in errors and salts the draw, so the
    validation split and the meta hold-out of one seed are drawn independently."""
    held = round(fraction * count)
    if not 0 < fraction < 1 or held < 1 or held >= count:
        raise MaxlError(
            f"{what} {fraction} holds out {held} of {count} training images; give a fraction "
            "strictly between 0 and 1 that leaves at least one image on each side"
        )
    salt = sum(ord(c) for c in what)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 7919 + salt))
    return order[held:].sort().values, order[:held].sort().values


def resolve_task(
    dataset: ImageDataset,
    primary_level: str | None,
    train_size: int | None,
    seed: int,
    aux_level: str | None = None,
    val_fraction: float = 0.0,
) -> Task:
    """Pick the primary level, a seeded training subset (less a seeded validation share when
    val_fraction > 0), and a finer level (default: the finest) as human labels."""
    level = dataset.default_level if primary_level is None else str(primary_level)
    if level not in dataset.levels:
        raise MaxlError(
            f"dataset {dataset.name} has no level {level!r}; choose --primary-level from "
            + ", ".join(dataset.levels)
        )
    num_train = len(dataset.x_train)
    if train_size is not None and train_size > num_train:
        warnings.warn(
            f"--train-size {train_size} is more than the {num_train} training rows of "
            f"{dataset.name}; training on all {num_train}",
            stacklevel=2,
        )
    if train_size is None or train_size >= num_train:
        indices = torch.arange(num_train)
    elif train_size < 1:
        raise MaxlError(f"--train-size must be at least 1, got {train_size}")
    else:
        order = torch.randperm(num_train, generator=torch.Generator().manual_seed(seed))
        indices = order[:train_size].sort().values
    if dataset.x_val is not None and val_fraction:
        raise MaxlError(
            f"{dataset.name} has its own validation split; drop --val-fraction {val_fraction} "
            "(or the validation arrays)"
        )
    if dataset.x_val is not None and level != dataset.default_level:
        raise MaxlError(
            f"{dataset.name}'s validation labels are of level {dataset.default_level}, not "
            f"the primary level {level}; train on level {dataset.default_level} or drop them"
        )
    val_indices = None
    if val_fraction:
        kept, held = split_rows(len(indices), val_fraction, seed, "--val-fraction")
        indices, val_indices = indices[kept], indices[held]
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
        val_indices=val_indices,
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
