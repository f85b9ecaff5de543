"""Inputs read on demand from a torch Dataset (`maxl.fit(..., stream=True)`): a training set
larger than memory, or one with its own random transforms, applied anew every epoch.

A `StreamedInputs` stands in for the in-memory input tensor of a split: `len`, `shape`, `dtype`,
`dim()`, `device`, `x[rows]` (those rows read and stacked) and `subset(rows)`; `read_batches`
reads a pass's batches ahead in DataLoader workers. Item i is read under a seed of its own,
drawn from (run seed, pass, i), so random transforms are reproducible: the same in one process
or several, resumed or not."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from maxl.data.batches import image_channel_stats
from maxl.data.layout import to_nchw
from maxl.errors import MaxlError


@dataclass(frozen=True)
class ItemFormat:
    """How one item's x becomes a row of the split's tensor, by the rules an .npz follows:
    images to [C, H, W] (uint8, floats x `scale` rounded to uint8, or float32 kept when `scale`
    is None), feature vectors to float32 [D]."""

    features: bool
    scale: float | None

    def convert(self, x: Any) -> torch.Tensor:
        array = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
        if self.features:
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        image = to_nchw(array[None], "x", "the Dataset")[0]
        if image.dtype == np.uint8:
            return torch.from_numpy(np.ascontiguousarray(image))
        if self.scale is None:
            return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        scaled = np.rint(image.astype(np.float64) * self.scale)
        return torch.from_numpy(np.ascontiguousarray(np.clip(scaled, 0, 255).astype(np.uint8)))


def seed_everything(seed: int) -> None:
    """Seed torch's CPU generator, numpy's and Python's, for reading one item."""
    torch.default_generator.manual_seed(seed)  # not torch.manual_seed: 100x dearer
    np.random.seed(seed % 2**32)
    random.seed(seed)


@contextlib.contextmanager
def random_state_kept() -> Iterator[None]:
    """Put torch's, numpy's and Python's random generators back as they were afterwards, so
    that reading items in the main process leaves the run's (and the user's) streams alone."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def item_seed(seed: int, salt: int, index: int) -> int:
    """The seed item `index` of a dataset is read under in pass `salt` of a run with `seed`:
    the three mixed (splitmix64's finaliser), so that no two triples share a seed by design."""
    mixed = 0
    for part in (seed, salt, index):
        mixed = splitmix(mixed ^ (part % 2**64))
    return mixed % 2**63


def splitmix(x: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers that scatters nearby inputs."""
    x = (x + 0x9E3779B97F4A7C15) % 2**64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) % 2**64
    return x ^ (x >> 31)


class SeededItems(Dataset):
    """Item (row, salt): the converted x of the source's item indices[row], read under its own
    seed (what the DataLoader workers call)."""

    def __init__(
        self, source: Dataset, indices: torch.Tensor | None, item_format: ItemFormat, seed: int
    ) -> None:
        self.source = source
        self.indices = indices
        self.format = item_format
        self.seed = seed

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.source)  # type: ignore[arg-type]

    def index(self, row: int) -> int:
        return row if self.indices is None else int(self.indices[row])

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        row, salt = key
        index = self.index(row)
        seed_everything(item_seed(self.seed, salt, index))
        return self.format.convert(self.source[index][0])


@dataclass(frozen=True)
class StreamedInputs:
    """The inputs of one split, read from a Dataset of (x, y) or (x, y, fine) items when asked
    for; `shape`, `dtype` and `dim()` are those of the tensor they would make in memory."""

    items: SeededItems
    item_shape: tuple[int, ...]
    dtype: torch.dtype
    workers: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def __len__(self) -> int:
        return len(self.items)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.item_shape))

    def dim(self) -> int:
        return 1 + len(self.item_shape)

    def to(self, device: torch.device | str) -> StreamedInputs:
        return replace(self, device=torch.device(device))

    def subset(self, rows: torch.Tensor) -> StreamedInputs:
        """The inputs of these rows only (row r of the subset is row rows[r] here)."""
        indices = torch.as_tensor([self.items.index(int(r)) for r in rows.tolist()])
        items = SeededItems(self.items.source, indices, self.items.format, self.items.seed)
        return replace(self, items=items)

    def __getitem__(self, key: int | np.integer | slice | torch.Tensor) -> torch.Tensor:
        """Rows read now, in this process (small reads: a sample, a hold-out batch)."""
        if isinstance(key, (int, np.integer)):
            return self.read([int(key)], salt=0)[0]
        rows = range(len(self))[key] if isinstance(key, slice) else key.tolist()
        return self.read(list(rows), salt=0)

    def read(self, rows: Sequence[int], salt: int) -> torch.Tensor:
        """These rows as one tensor on the device, read in this process."""
        if not rows:
            return torch.empty((0, *self.item_shape), dtype=self.dtype, device=self.device)
        with random_state_kept():
            x = torch.stack([self.items[(row, salt)] for row in rows])
        return x.to(self.device)

    def batches(self, batches: Sequence[torch.Tensor], salt: int) -> Iterator[torch.Tensor]:
        """Each batch of rows as one tensor on the device, in order, read ahead by workers."""
        if self.workers == 0:
            for rows in batches:
                yield self.read(rows.tolist(), salt)
            return
        sampler = [[(row, salt) for row in rows.tolist()] for rows in batches]
        loader = DataLoader(
            self.items,
            batch_sampler=sampler,
            num_workers=self.workers,
            collate_fn=torch.stack,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator(),  # its worker seeds are unused: not the run's stream
        )
        for x in loader:
            yield x.to(self.device, non_blocking=True)

    def load_all(self) -> torch.Tensor:
        """Every row in memory (what k-means needs: it clusters all the inputs at once)."""
        rows = torch.arange(len(self))
        return torch.cat(list(self.batches(list(rows.split(256)), salt=0)))


Inputs = torch.Tensor | StreamedInputs


def read_batches(
    inputs: Inputs, batches: Sequence[torch.Tensor], salt: int
) -> Iterator[torch.Tensor]:
    """The inputs of each batch of rows in order: indexed in memory, or read from a stream
    (pass `salt` seeds a stream's random transforms)."""
    if isinstance(inputs, StreamedInputs):
        yield from inputs.batches(batches, salt)
    else:
        for rows in batches:
            yield inputs[rows]


def rows_of(inputs: Inputs, rows: torch.Tensor) -> Inputs:
    """A subset of the inputs: a tensor of those rows, or a stream of them (nothing read)."""
    if isinstance(inputs, StreamedInputs):
        return inputs.subset(rows)
    return inputs[rows]


def streamed_channel_stats(inputs: StreamedInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """channel_stats of a stream, read batch by batch: for images the very numbers it gives
    in memory; for feature vectors two float64 passes (in memory: torch's mean and std)."""
    batches = list(torch.arange(len(inputs)).split(1024))

    def chunks() -> Iterator[torch.Tensor]:
        return read_batches(replace(inputs, device=torch.device("cpu")), batches, salt=0)

    if inputs.dim() == 4:
        channels, height, width = inputs.item_shape
        return image_channel_stats(chunks, inputs.dtype, channels, len(inputs) * height * width)
    zero = torch.zeros((), dtype=torch.float64)  # a tensor start: the sums are tensors
    mean = sum((x.double().sum(0) for x in chunks()), zero) / len(inputs)
    squares = sum((((x.double() - mean) ** 2).sum(0) for x in chunks()), zero)
    return mean.float(), (squares / len(inputs)).sqrt().clamp_min(1e-6).float()


def check_streamable(data: Any, split: str) -> Dataset:
    """`data` as a Dataset that can be streamed, or one line saying what to give instead."""
    if not isinstance(data, Dataset) or isinstance(data, (tuple, list)):
        raise MaxlError(
            f"maxl.fit: stream=True reads {split} from a torch Dataset, got a "
            f"{type(data).__name__}; give a Dataset of (x, y) items, or drop stream=True"
        )
    try:
        size = len(data)  # type: ignore[arg-type]
    except TypeError:
        raise MaxlError(
            f"maxl.fit: {split} is a Dataset without len(); give it a __len__ to stream it"
        ) from None
    if size == 0:
        raise MaxlError(f"maxl.fit: {split} is empty; give at least one item")
    return data
