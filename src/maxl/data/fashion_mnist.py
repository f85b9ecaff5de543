"""Fashion-MNIST with its 2 -> 6 -> 10 class hierarchy, read from IDX files found or downloaded
by `sources` and verified by checksum before they are parsed."""

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

# SHA-256 of the decompressed files (the .gz bytes differ between sources, the content does not).
SHA256: Mapping[str, str] = MappingProxyType(
    {
        TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    }
)
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)  # Debian's dataset-fashion-mnist
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

CLASS_NAMES_10 = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CLASS_NAMES_6 = ("Tops", "Bottoms", "Dresses", "Outers", "Shoes", "Bags")
CLASS_NAMES_2 = ("Clothes", "Goods")
# Level "5": classes i and i + 5 merged, a rule fixed before any result (DESIGN §4): unions of
# unlike classes, as CIFAR-100's superclasses are unions of fine classes.
CLASS_NAMES_5 = tuple(f"{CLASS_NAMES_10[i]} | {CLASS_NAMES_10[i + 5]}" for i in range(5))
TO_6 = (0, 1, 0, 2, 3, 4, 0, 4, 5, 4)  # 10-class label -> 6-class label
TO_2 = (0, 0, 0, 0, 0, 1, 0, 1, 1, 1)  # 10-class label -> 2-class label
TO_5 = tuple(label % 5 for label in range(10))  # 10-class label -> the pair it belongs to


def load_fashion_mnist(
    data_dir: str | Path | None = None,
    *,
    checksums: Mapping[str, str] = SHA256,
    system_dirs: Sequence[Path] = SYSTEM_DIRS,
    fetch: Fetch | None = None,
) -> ImageDataset:
    """Load Fashion-MNIST (levels "2", "5", "6", "10"; "5" pairs class i with i + 5);
    `checksums` maps file name -> SHA-256."""
    spec = RemoteFiles(
        dataset="fashion-mnist",
        files=(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS),
        base_url=BASE_URL,
        layouts=("", "FashionMNIST/raw"),
        system_dirs=tuple(Path(d) for d in system_dirs),
        fix="delete it so it is downloaded again, or reinstall dataset-fashion-mnist "
        "if it came from that package",
    )
    files = obtain(spec, checksums, data_dir, fetch)
    x_train, y_train = _split(files[TRAIN_IMAGES], files[TRAIN_LABELS])
    x_test, y_test = _split(files[TEST_IMAGES], files[TEST_LABELS])
    to_6, to_5, to_2 = torch.tensor(TO_6), torch.tensor(TO_5), torch.tensor(TO_2)
    return ImageDataset(
        name="fashion-mnist",
        x_train=x_train,
        x_test=x_test,
        labels_train={
            "2": to_2[y_train],
            "5": to_5[y_train],
            "6": to_6[y_train],
            "10": y_train,
        },
        labels_test={"2": to_2[y_test], "5": to_5[y_test], "6": to_6[y_test], "10": y_test},
        default_level="10",
        flip=True,
        class_names={
            "2": list(CLASS_NAMES_2),
            "5": list(CLASS_NAMES_5),
            "6": list(CLASS_NAMES_6),
            "10": list(CLASS_NAMES_10),
        },
    )


def _split(images: LocalFile, labels: LocalFile) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse one split's image and label files and check that they fit together."""
    x = parse_idx(images.data, str(images.path))
    y = parse_idx(labels.data, str(labels.path))
    fix = "replace the file with the original Fashion-MNIST one"
    if x.dtype != np.uint8 or x.ndim != 3:
        raise MaxlError(f"{images.path} holds {x.dtype} {x.shape}, not uint8 [N, H, W]; {fix}")
    if y.dtype != np.uint8 or y.shape != (len(x),):
        raise MaxlError(
            f"{labels.path} holds {y.dtype} {y.shape}, not {len(x)} uint8 labels to match "
            f"{images.path}; {fix}"
        )
    if len(y) and int(y.max()) >= len(CLASS_NAMES_10):
        raise MaxlError(f"{labels.path} has label {int(y.max())} outside 0..9; {fix}")
    return torch.from_numpy(x).unsqueeze(1).contiguous(), torch.from_numpy(y).long()
