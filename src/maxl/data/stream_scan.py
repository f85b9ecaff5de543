"""One pass over each split of a streamed Dataset before training: the labels (kept in memory),
the item shape, and the value range that fixes how floats are stored (the .npz rule), each
item checked so that a bad one is a clear error now rather than a crash in epoch 7."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from maxl.data.dataset import ImageDataset
from maxl.data.npz import dataset_from_arrays
from maxl.data.streamed import (
    ItemFormat,
    SeededItems,
    StreamedInputs,
    item_seed,
    random_state_kept,
    seed_everything,
)
from maxl.errors import MaxlError


@dataclass
class Scan:
    """What a pass over one split found (merged batch by batch)."""

    parts: int = 0  # 2 for (x, y) items, 3 for (x, y, fine)
    shape: tuple[int, ...] | None = None  # of x as given
    kinds: set[str] = field(default_factory=set)  # "uint8", "float" or "other"
    low: float = 0.0
    high: float = 0.0
    whole: bool = True  # every float value a whole number
    labels: list[list[int]] = field(default_factory=list)  # y, then fine
    problem: str | None = None  # the first bad item, in words

    def merge(self, other: Scan) -> None:
        """Add a later batch's findings (the first problem found is kept)."""
        if self.problem is not None or (other.parts == 0 and other.problem is None):
            return
        if other.problem is not None or self.parts == 0:
            self.__dict__.update(other.__dict__)
            return
        if other.parts != self.parts:
            self.problem = "mixes (x, y) and (x, y, fine) items"
        elif other.shape != self.shape:
            self.problem = f"has items of shape {self.shape} and {other.shape}"
        else:
            self.kinds |= other.kinds
            self.low, self.high = min(self.low, other.low), max(self.high, other.high)
            self.whole = self.whole and other.whole
            for mine, theirs in zip(self.labels, other.labels, strict=True):
                mine.extend(theirs)


class ScanItems(Dataset):
    """Item i of the source, as read in a pass, with its position (for errors)."""

    def __init__(self, source: Dataset, seed: int) -> None:
        self.source = source
        self.seed = seed

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[int, Any]:
        seed_everything(item_seed(self.seed, 0, index))
        try:
            return index, self.source[index]
        except Exception as error:  # the user's __getitem__ failed: said in one line later
            text = str(error).splitlines()[0] if str(error) else ""
            return index, Unreadable(f"{type(error).__name__}: {text}")


@dataclass(frozen=True)
class Unreadable:
    """An item whose reading raised (the exception in words, carried out of the worker)."""

    error: str


def scan_batch(batch: Sequence[tuple[int, Any]]) -> Scan:
    """A Scan of a few items (run in the workers; a bad item becomes `problem`, not a raise,
    so the message reaches the user without a worker's traceback)."""
    scan = Scan()
    for index, item in batch:
        one = scan_item(index, item)
        scan.merge(one)
        if scan.problem is not None:
            break
    return scan


def scan_item(index: int, item: Any) -> Scan:
    where = f"item {index}"
    if isinstance(item, Unreadable):
        return Scan(problem=f"{where} could not be read ({item.error})")
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        return Scan(problem=f"{where} is a {type(item).__name__}, not an (x, y) or (x, y, fine)")
    x = item[0]
    try:
        array = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
        labels = [int(label) for label in item[1:]]
    except (TypeError, ValueError, RuntimeError) as error:
        return Scan(problem=f"{where} cannot be read as numbers ({error})")
    if any(float(value) != int(value) for value in item[1:]):
        return Scan(problem=f"{where} has a label that is not a whole number")
    if any(label < 0 for label in labels):
        return Scan(problem=f"{where} has a negative label")
    if array.ndim not in (1, 2, 3) or (array.ndim == 3 and not image_layout(array)):
        return Scan(
            problem=f"{where} has x of shape {array.shape}; give a feature vector (D,) or an "
            "image (H, W), (C, H, W) or (H, W, C) with C in 1, 3, 4"
        )
    if array.dtype == np.uint8:
        kind = "uint8"
    elif np.issubdtype(array.dtype, np.floating):
        kind = "float"
        if not np.isfinite(array).all():
            return Scan(problem=f"{where} holds NaN or infinity")
    else:
        kind = "other"
    low = float(array.min(initial=0)) if kind == "float" else 0.0
    high = float(array.max(initial=0)) if kind == "float" else 0.0
    return Scan(
        parts=len(item),
        shape=tuple(array.shape),
        kinds={kind},
        low=low,
        high=high,
        whole=kind != "float" or bool(np.array_equal(array, np.rint(array))),
        labels=[[label] for label in labels],
    )


def image_layout(array: np.ndarray) -> bool:
    """Is a 3-D item an image in a layout the .npz rule reads ((C, H, W) or (H, W, C))?"""
    return array.shape[0] in (1, 3, 4) or array.shape[-1] in (1, 3, 4)


def scan_split(source: Dataset, split: str, seed: int, workers: int) -> Scan:
    """One pass over a split; one line naming the first bad item if there is one."""
    loader = DataLoader(
        ScanItems(source, seed),
        batch_size=256,
        num_workers=workers,
        collate_fn=scan_batch,
        generator=torch.Generator(),  # leaves the global random stream alone
    )
    scan = Scan()
    with random_state_kept():  # without workers the items are read in this process
        for part in loader:
            scan.merge(part)
            if scan.problem is not None:
                break
    if scan.problem is not None:
        raise MaxlError(f"maxl.fit: the {split} Dataset {scan.problem}; fix its __getitem__")
    return scan


def float_rule(scans: dict[str, Scan]) -> float | None:
    """The .npz rule for floats, judged over every split: all in 0..1 -> x 255 as uint8; whole
    numbers in 0..255 -> uint8; other floats kept (None)."""
    kinds = set().union(*(scan.kinds for scan in scans.values()))
    if "other" in kinds:
        raise MaxlError(
            "maxl.fit: the Dataset yields images that are neither uint8 nor float; convert "
            "x to uint8 (0..255) or float in its __getitem__"
        )
    floats = [scan for scan in scans.values() if "float" in scan.kinds]
    if not floats:
        return None
    low, high = min(s.low for s in floats), max(s.high for s in floats)
    if low >= 0 and high <= 1:
        return 255.0
    if low >= 0 and high <= 255 and all(s.whole for s in floats):
        return 1.0
    if "uint8" in kinds:
        raise MaxlError(
            "maxl.fit: the Dataset mixes uint8 images and float ones outside 0..1; give every "
            "item and split the same dtype"
        )
    return None


def streamed_dataset(
    sources: dict[str, Dataset], seed: int, workers: int, name: str = "tensors"
) -> ImageDataset:
    """An ImageDataset whose inputs are streams of the given splits (train, test, val), with
    their labels read now, checked as an .npz of the same data would be."""
    scans = {split: scan_split(source, split, seed, workers) for split, source in sources.items()}
    if "val" in scans and scans["val"].parts != 2:
        raise MaxlError("maxl.fit: give val items as (x, y); validation needs no fine labels")
    if scans["train"].parts != scans["test"].parts:
        raise MaxlError(
            "maxl.fit: only one of train and test has fine labels; give (x, y, fine) for both "
            "or for neither"
        )
    ranks = {split: len(scan.shape or ()) for split, scan in scans.items()}
    features = ranks["train"] == 1
    if any((rank == 1) != features for rank in ranks.values()):
        raise MaxlError(
            f"maxl.fit: the splits' items have {ranks} dimensions; give feature vectors (D,) "
            "in every split or images in every split"
        )
    scale = None if features else float_rule(scans)
    item_format = ItemFormat(features=features, scale=scale)
    inputs = []
    for source in sources.values():
        items = SeededItems(source, None, item_format, seed)
        with random_state_kept():
            first = items[(0, 0)]
        inputs.append(StreamedInputs(items, tuple(first.shape), first.dtype, workers))
    arrays: dict[str, np.ndarray] = {}
    for split, scan in scans.items():
        arrays[f"y_{split}"] = np.asarray(scan.labels[0], dtype=np.int64)
        if scan.parts == 3:
            arrays[f"fine_{split}"] = np.asarray(scan.labels[1], dtype=np.int64)
        arrays[f"x_{split}"] = np.empty(0)  # marks the split as present
    return dataset_from_arrays(arrays, name, "maxl.fit", inputs=(inputs, scale))
