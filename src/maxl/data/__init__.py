"""Datasets in memory as uint8 tensors, on-device batched augmentation and index batches."""

from maxl.data.augment import augment_batch
from maxl.data.batches import batch_indices, channel_stats, to_float
from maxl.data.dataset import ImageDataset

__all__ = [
    "ImageDataset",
    "augment_batch",
    "batch_indices",
    "channel_stats",
    "to_float",
]
