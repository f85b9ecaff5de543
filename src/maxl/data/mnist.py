"""MNIST from its IDX files: found as torchvision lays them out (MNIST/raw) or downloaded from
torchvision's mirror, then the original site; each .gz is checked by its published MD5 first.

Only the .gz files have published checksums, so wherever both forms lie the .gz is read. An
uncompressed file found alone is accepted unverified but parsed strictly: the exact IDX length
(truncation), 28x28 uint8 images, and one label 0..9 per image. IDX is plain numbers, so an
unverified file can at worst hold wrong pixels, never run code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from maxl.data.dataset import ImageDataset
from maxl.data.idx import parse_idx
from maxl.data.sources import Fetch, LocalFile, RemoteFiles, obtain
from maxl.errors import MaxlError

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"

# MD5s of the .gz files as published by torchvision (torchvision/datasets/mnist.py).
MD5: Mapping[str, str] = MappingProxyType(
    {
        f"{TRAIN_IMAGES}.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        f"{TRAIN_LABELS}.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        f"{TEST_IMAGES}.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        f"{TEST_LABELS}.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    }
)
BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # torchvision's mirror
MIRRORS = ("http://yann.lecun.com/exdb/mnist/",)  # the original site
FIX = "delete it so it is downloaded again"


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    checksums: Mapping[str, str] = MD5,
    system_dirs: Sequence[Path] = (),
    fetch: Fetch | None = None,
) -> ImageDataset:
    """Load MNIST (level "10"); `checksums` maps file name (with .gz) -> checksum."""
    spec = RemoteFiles(
        dataset="mnist",
        files=(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS),
        base_url=BASE_URL,
        mirrors=MIRRORS,
        layouts=("", "MNIST/raw"),
        suffixes=(".gz", ""),
        system_dirs=tuple(Path(d) for d in system_dirs),
        fix=FIX,
    )
    files = obtain(spec, checksums, data_dir, fetch)
    x_train, y_train = _split(files[TRAIN_IMAGES], files[TRAIN_LABELS])
    x_test, y_test = _split(files[TEST_IMAGES], files[TEST_LABELS])
    return ImageDataset(
        name="mnist",
        x_train=x_train,
        x_test=x_test,
        labels_train={"10": y_train},
        labels_test={"10": y_test},
        default_level="10",
        flip=False,
        class_names={"10": [str(digit) for digit in range(10)]},
    )


def _split(images: LocalFile, labels: LocalFile) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse one split's image and label files and check that they fit together."""
    x = parse_idx(images.data, str(images.path))
    y = parse_idx(labels.data, str(labels.path))
    if x.dtype != np.uint8 or x.shape[1:] != (28, 28) or x.ndim != 3:
        raise MaxlError(f"{images.path} holds {x.dtype} {x.shape}, not uint8 [N, 28, 28]; {FIX}")
    if y.dtype != np.uint8 or y.shape != (len(x),):
        raise MaxlError(
            f"{labels.path} holds {y.dtype} {y.shape}, not {len(x)} uint8 labels to match "
            f"{images.path}; {FIX}"
        )
    if len(y) and int(y.max()) > 9:
        raise MaxlError(f"{labels.path} has label {int(y.max())} outside 0..9; {FIX}")
    return torch.from_numpy(x).unsqueeze(1).contiguous(), torch.from_numpy(y).long()
