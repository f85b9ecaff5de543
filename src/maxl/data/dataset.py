"""The in-memory dataset type shared by every loader (maxl.assembly.datasets picks the loader)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maxl.data.streamed import Inputs
from maxl.errors import MaxlError


@dataclass(frozen=True)
class ImageDataset:
    """A whole dataset in memory: uint8 images and integer labels at one or more hierarchy levels.

    Level names are class counts as strings ("2", "10"); `labels_train` is ordered coarse -> fine.
    """

    name: str
    x_train: Inputs  # uint8 images [N, C, H, W] or float32 feature vectors [N, D] (or a stream)
    x_test: Inputs  # the same kind, [M, ...]
    labels_train: dict[str, torch.Tensor]  # level -> int64 [N]
    labels_test: dict[str, torch.Tensor]  # same keys, int64 [M]
    default_level: str  # the dataset's usual labels
    flip: bool  # is a horizontal flip label-preserving?
    class_names: dict[str, list[str]]  # level -> names (may be empty for user data)
    x_val: Inputs | None = None  # the user's own validation inputs, like x_train
    y_val: torch.Tensor | None = None  # their labels at the default level, int64 [V]
    float_scale: float | None = None  # the factor that made float images uint8 (None: none did)

    def __post_init__(self) -> None:
        _check_images(self.name, self.x_train, self.x_test)
        if (self.x_val is None) != (self.y_val is None):
            raise MaxlError(
                f"dataset {self.name}: validation inputs without labels or labels without "
                "inputs; give both x_val and y_val, or neither"
            )
        if self.x_val is not None and self.y_val is not None:
            _check_images(self.name, self.x_train, self.x_val, "validation")
            _check_labels(self.name, self.default_level, "val", self.y_val, len(self.x_val))
        if list(self.labels_train) != list(self.labels_test) or not self.labels_train:
            raise MaxlError(
                f"dataset {self.name}: train levels {list(self.labels_train)} and test levels "
                f"{list(self.labels_test)} differ or are empty; give both splits the same levels"
            )
        for level in self.labels_train:
            if not level.isdigit() or int(level) < 1:
                raise MaxlError(
                    f"dataset {self.name}: level name '{level}' is not a class count; "
                    "name each level by its number of classes"
                )
            for split, labels, n in (
                ("train", self.labels_train[level], len(self.x_train)),
                ("test", self.labels_test[level], len(self.x_test)),
            ):
                _check_labels(self.name, level, split, labels, n)
        if self.default_level not in self.labels_train:
            raise MaxlError(
                f"dataset {self.name}: default level '{self.default_level}' is not one of "
                f"{self.levels}; pick one of those"
            )
        for level, names in self.class_names.items():
            if level not in self.labels_train or (names and len(names) != int(level)):
                raise MaxlError(
                    f"dataset {self.name}: class_names['{level}'] does not match a level or has "
                    f"{len(names)} names; give one name per class of an existing level"
                )

    @property
    def is_features(self) -> bool:
        """Feature vectors [N, D] (tabular data, embeddings) rather than images."""
        return self.x_train.dim() == 2

    @property
    def levels(self) -> list[str]:
        """Level names, coarse to fine."""
        return list(self.labels_train)

    def num_classes(self, level: str | None = None) -> int:
        """Number of classes at `level` (the default level when None)."""
        level = self.default_level if level is None else level
        if level not in self.labels_train:
            raise MaxlError(
                f"dataset {self.name} has no level '{level}'; choose one of {self.levels}"
            )
        return int(level)


def _check_images(name: str, x_train: Inputs, x_test: Inputs, other: str = "test") -> None:
    for split, x in (("train", x_train), (other, x_test)):
        images = x.dtype in (torch.uint8, torch.float32) and x.dim() == 4
        features = x.dtype == torch.float32 and x.dim() == 2
        if not (images or features) or len(x) == 0:
            raise MaxlError(
                f"dataset {name}: {split} inputs must be a non-empty uint8 or float32 "
                f"[N, C, H, W] image tensor or float32 [N, D] feature vectors, got {x.dtype} "
                f"{tuple(x.shape)}; convert them before building the dataset"
            )
        # a stream's values were checked as read
        if isinstance(x, torch.Tensor) and x.dtype == torch.float32 and not torch.isfinite(x).all():
            raise MaxlError(f"dataset {name}: {split} inputs hold NaN or infinity; clean them")
    if x_train.dtype != x_test.dtype:
        raise MaxlError(
            f"dataset {name}: train inputs are {x_train.dtype} but {other} inputs are "
            f"{x_test.dtype}; give every split the same kind"
        )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise MaxlError(
            f"dataset {name}: train images are {tuple(x_train.shape[1:])} but {other} images "
            f"are {tuple(x_test.shape[1:])} (C, H, W); give both splits the same image shape"
        )


def _check_labels(name: str, level: str, split: str, labels: torch.Tensor, n: int) -> None:
    where = f"dataset {name}, level '{level}', {split} labels"
    if labels.dtype != torch.int64 or labels.shape != (n,):
        raise MaxlError(
            f"{where}: expected int64 [{n}], got {labels.dtype} {tuple(labels.shape)}; "
            "give one integer label per image"
        )
    if n and (int(labels.min()) < 0 or int(labels.max()) >= int(level)):
        raise MaxlError(
            f"{where}: values span {int(labels.min())}..{int(labels.max())}, outside 0..{level}-1; "
            "fix the labels or the level name"
        )
