"""The dataset registry: `--dataset` names (and npz:PATH, folder:PATH) to their loaders."""

from __future__ import annotations

import warnings
from pathlib import Path

from maxl.data.cifar import load_cifar10, load_cifar100
from maxl.data.cinic10 import load_cinic10
from maxl.data.dataset import ImageDataset
from maxl.data.digits import load_digits
from maxl.data.fashion_mnist import load_fashion_mnist
from maxl.data.folder import load_folder
from maxl.data.mnist import load_mnist
from maxl.data.npz import load_npz
from maxl.data.svhn import load_svhn
from maxl.errors import MaxlError

KNOWN_DATASETS = (
    "digits", "fashion-mnist", "mnist", "cifar10", "cifar100", "svhn", "cinic10", "npz:PATH",
    "folder:PATH",
)  # fmt: skip


def load_dataset(
    name: str, data_dir: str | Path | None = None, *, image_size: int | None = None
) -> ImageDataset:
    """Load a dataset by name: one of KNOWN_DATASETS, "npz:PATH" being your own arrays and
    "folder:PATH" your own image tree (resized to image_size x image_size when given; the
    other datasets have fixed sizes and ignore it, with a warning)."""
    if image_size is not None and not name.startswith("folder:"):
        warnings.warn(
            f"--image-size {image_size} is used for folder:PATH datasets only; {name} keeps "
            "its own image size",
            stacklevel=2,
        )
    if name.startswith("npz:"):
        path = name[len("npz:") :]
        if not path:
            raise MaxlError("dataset 'npz:' names no file; write npz:PATH with your .npz file")
        return load_npz(path, data_dir)
    if name.startswith("folder:"):
        path = name[len("folder:") :]
        if not path:
            raise MaxlError(
                "dataset 'folder:' names no folder; write folder:PATH with your image folder"
            )
        return load_folder(path, data_dir, image_size)
    loaders = {
        "digits": load_digits,
        "fashion-mnist": load_fashion_mnist,
        "mnist": load_mnist,
        "cifar10": load_cifar10,
        "cifar100": load_cifar100,
        "svhn": load_svhn,
        "cinic10": load_cinic10,
    }
    loader = loaders.get(name.strip().lower().replace("_", "-"))
    if loader is None:
        hint = f" (for your own file write npz:{name})" if name.endswith(".npz") else ""
        if name and Path(name).expanduser().is_dir():
            hint = f" (for your own image folder write folder:{name})"
        raise MaxlError(f"unknown dataset '{name}'; use one of {', '.join(KNOWN_DATASETS)}{hint}")
    return loader(data_dir)
