"""Streamed inputs: read from a Dataset, they equal what the .npz rules make of the same data in
memory (values, channel statistics); each item's random transform depends on (seed, pass, item)
alone, whatever the workers; and every bad Dataset is one line found before training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from maxl.data.batches import channel_stats
from maxl.data.npz import dataset_from_arrays
from maxl.data.stream_scan import streamed_dataset
from maxl.data.streamed import StreamedInputs, read_batches, streamed_channel_stats
from maxl.errors import MaxlError


class Items(Dataset):
    """(x, y) or (x, y, fine) items from arrays, x optionally with torch-random noise added."""

    def __init__(self, x, y, fine=None, noise: float = 0.0) -> None:
        self.x, self.y, self.fine, self.noise = x, y, fine, noise

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        x = torch.as_tensor(self.x[i])
        if self.noise:
            x = x + self.noise * torch.rand(x.shape)
        if self.fine is None:
            return x, int(self.y[i])
        return x, int(self.y[i]), int(self.fine[i])


def arrays(kind: str, n: int = 40, seed: int = 0) -> np.ndarray:
    """Images of one kind: uint8, floats in 0..1, whole floats in 0..255, normalised floats,
    channels-last uint8, or feature vectors."""
    rng = np.random.default_rng(seed)
    if kind == "uint8":
        return rng.integers(0, 256, (n, 3, 6, 5), dtype=np.uint8)
    if kind == "unit":
        return rng.random((n, 1, 6, 6)).astype(np.float32)
    if kind == "whole":
        return rng.integers(0, 256, (n, 6, 6)).astype(np.float64)
    if kind == "normalised":
        return rng.normal(size=(n, 3, 4, 4)).astype(np.float32)
    if kind == "channels-last":
        return rng.integers(0, 256, (n, 5, 4, 3), dtype=np.uint8)
    return rng.normal(size=(n, 7)).astype(np.float32)


KINDS = ["uint8", "unit", "whole", "normalised", "channels-last", "features"]


def splits(kind: str) -> dict[str, Items]:
    x_train, x_test = arrays(kind, 40, 0), arrays(kind, 20, 1)
    y_train, y_test = np.arange(40) % 3, np.arange(20) % 3
    return {"train": Items(x_train, y_train), "test": Items(x_test, y_test)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("workers", [0, 2])
def test_a_stream_reads_what_the_npz_rules_make_of_the_same_arrays(kind, workers):
    sources = splits(kind)
    streamed = streamed_dataset(sources, seed=0, workers=workers)
    memory = dataset_from_arrays(
        {
            "x_train": sources["train"].x,
            "y_train": sources["train"].y,
            "x_test": sources["test"].x,
            "y_test": sources["test"].y,
        },
        "tensors",
        "test",
    )
    assert streamed.float_scale == memory.float_scale
    assert streamed.labels_train.keys() == memory.labels_train.keys()
    for level in memory.labels_train:
        assert torch.equal(streamed.labels_train[level], memory.labels_train[level])
    for got, expected in ((streamed.x_train, memory.x_train), (streamed.x_test, memory.x_test)):
        assert isinstance(got, StreamedInputs)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        batches = list(torch.arange(len(expected)).split(7))
        read = torch.cat(list(read_batches(got, batches, salt=3)))
        assert torch.equal(read, expected)
        rows = torch.tensor([5, 0, 11])
        assert torch.equal(got[rows], expected[rows])
        assert torch.equal(got.subset(rows)[torch.tensor([2, 1])], expected[rows[[2, 1]]])
    mean, std = streamed_channel_stats(streamed.x_train)
    expected_mean, expected_std = channel_stats(memory.x_train)
    if memory.x_train.dtype == torch.uint8:  # exact integer sums: the very same numbers
        assert torch.equal(mean, expected_mean) and torch.equal(std, expected_std)
    else:
        torch.testing.assert_close(mean, expected_mean, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(std, expected_std, rtol=1e-5, atol=1e-6)


def noisy_stream(workers: int) -> StreamedInputs:
    sources = splits("unit")
    for source in sources.values():
        source.noise = 0.5  # floats up to 1.5: kept as float32, the noise unrounded
    x_train = streamed_dataset(sources, seed=7, workers=workers).x_train
    assert isinstance(x_train, StreamedInputs) and x_train.dtype == torch.float32
    return x_train


def test_random_transforms_depend_on_seed_pass_and_item_alone():
    in_process, in_workers = noisy_stream(0), noisy_stream(2)
    batches = list(torch.randperm(40, generator=torch.Generator().manual_seed(0)).split(6))
    first = torch.cat(list(read_batches(in_process, batches, salt=1)))
    assert torch.equal(first, torch.cat(list(read_batches(in_workers, batches, salt=1))))
    again = torch.cat(list(read_batches(in_process, list(reversed(batches)), salt=1)))
    order = torch.cat(batches)
    reversed_order = torch.cat(list(reversed(batches)))
    by_item = dict(zip(order.tolist(), first, strict=True))
    for row, x in zip(reversed_order.tolist(), again, strict=True):
        assert torch.equal(x, by_item[row])  # the same item, the same draw, in any order
    other_pass = torch.cat(list(read_batches(in_process, batches, salt=2)))
    assert not torch.equal(first, other_pass)  # drawn anew in the next pass
    clean = torch.as_tensor(splits("unit")["train"].x)[order]
    noise = first - clean
    assert float(noise.min()) >= 0 and float(noise.max()) <= 0.5  # the Dataset's own transform


def test_reading_in_this_process_leaves_its_random_streams_alone():
    stream = noisy_stream(0)
    torch.manual_seed(3)
    np.random.seed(3)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    stream[torch.arange(10)]
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])


def test_fine_labels_and_a_validation_split_are_read_with_the_labels():
    rng = np.random.default_rng(0)
    fine_train, fine_test = rng.integers(0, 6, 30), rng.integers(0, 6, 10)
    sources = {
        "train": Items(arrays("uint8", 30), fine_train // 2, fine_train),
        "test": Items(arrays("uint8", 10), fine_test // 2, fine_test),
        "val": Items(arrays("uint8", 8), np.arange(8) % 3),
    }
    dataset = streamed_dataset(sources, seed=0, workers=0)
    assert list(dataset.labels_train) == ["3", "6"]
    assert torch.equal(dataset.labels_train["6"], torch.as_tensor(fine_train))
    assert torch.equal(dataset.y_val, torch.arange(8) % 3)
    assert len(dataset.x_val) == 8


class Broken(Items):
    def __init__(self, x, y, bad_at: int, item) -> None:
        super().__init__(x, y)
        self.bad_at, self.item = bad_at, item

    def __getitem__(self, i: int):
        if i == self.bad_at and isinstance(self.item, Exception):
            raise self.item
        return self.item if i == self.bad_at else super().__getitem__(i)


BAD_ITEMS = [
    (torch.zeros(3, 6, 5, dtype=torch.uint8), "is a Tensor, not an \\(x, y\\)"),
    ((torch.zeros(3, 5, 5, dtype=torch.uint8), 0), "has items of shape"),
    ((torch.full((3, 6, 5), float("nan")), 0), "item 13 holds NaN or infinity"),
    ((torch.zeros(3, 6, 5, dtype=torch.uint8), -1), "item 13 has a negative label"),
    ((torch.zeros(3, 6, 5, dtype=torch.uint8), 0.5), "not a whole number"),
    ((torch.zeros(2, 2, 2, 2, dtype=torch.uint8), 0), "has x of shape"),
    ((torch.zeros(3, 6, 5, dtype=torch.uint8), 0, 1), r"mixes \(x, y\) and \(x, y, fine\)"),
    (FileNotFoundError("no such file: 13.png"), r"item 13 could not be read \(FileNotFound"),
]


@pytest.mark.parametrize(("item", "message"), BAD_ITEMS)
@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_item_is_one_line_naming_it_before_training(item, message, workers):
    sources = splits("uint8")
    sources["train"] = Broken(sources["train"].x, sources["train"].y, 13, item)
    with pytest.raises(MaxlError, match=message) as error:
        streamed_dataset(sources, seed=0, workers=workers)
    assert "\n" not in str(error.value) and "the train Dataset" in str(error.value)


def test_splits_of_different_kinds_are_one_line():
    sources = splits("uint8")
    sources["test"] = Items(arrays("normalised", 20), np.arange(20) % 3)
    with pytest.raises(MaxlError, match="mixes uint8 images and float ones"):
        streamed_dataset(sources, seed=0, workers=0)
    sources["test"] = Items(arrays("features", 20), np.arange(20) % 3)
    with pytest.raises(MaxlError, match="feature vectors"):
        streamed_dataset(sources, seed=0, workers=0)
