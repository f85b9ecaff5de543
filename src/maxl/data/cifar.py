"""CIFAR-10 and CIFAR-100 (with a 3 -> 10 -> 20 -> 100 class hierarchy) from the official python
pickles, read from torchvision's unpacked folder or from the official tarball in memory.

Every pickle is checked against its published MD5 before it is unpickled, and the unpickler
rebuilds nothing but numpy arrays, so a file that slipped past its checksum still runs no code.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import torch

from maxl.data.archive import archive_members, find_unpacked
from maxl.data.dataset import ImageDataset
from maxl.data.sources import Fetch, RemoteFiles, check_bytes, obtain, read_verified
from maxl.errors import MaxlError

BASE_URL = "https://www.cs.toronto.edu/~kriz/"


@dataclass(frozen=True)
class Variant:
    """One CIFAR release: its tarball, the folder the tarball unpacks into, and its files."""

    dataset: str  # folder name under $MAXL_DATA and the cache
    archive: str
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str

    @property
    def files(self) -> tuple[str, ...]:
        """Every file inside the folder that the loader reads."""
        return (*self.train, *self.test, self.meta)


CIFAR10 = Variant(
    dataset="cifar10",
    archive="cifar-10-python.tar.gz",
    folder="cifar-10-batches-py",
    train=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test=("test_batch",),
    meta="batches.meta",
)
CIFAR100 = Variant(
    dataset="cifar100",
    archive="cifar-100-python.tar.gz",
    folder="cifar-100-python",
    train=("train",),
    test=("test",),
    meta="meta",
)

# MD5s as published by torchvision (torchvision/datasets/cifar.py): the tarball, and each file
# inside it (torchvision checks the unpacked files with the same sums).
MD5_CIFAR10: Mapping[str, str] = MappingProxyType(
    {
        "cifar-10-python.tar.gz": "md5:c58f30108f718f92721af3b95e74349a",
        "data_batch_1": "md5:c99cafc152244af753f735de768cd75f",
        "data_batch_2": "md5:d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "md5:54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "md5:634d18415352ddfa80567beed471001a",
        "data_batch_5": "md5:482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "md5:40351d587109b95175f43aff81a1287e",
        "batches.meta": "md5:5ff9c542aee3614f3951f8cda6e48888",
    }
)
MD5_CIFAR100: Mapping[str, str] = MappingProxyType(
    {
        "cifar-100-python.tar.gz": "md5:eb9058c3a382ffc7106e4002c42a8d85",
        "train": "md5:16019d7e3df5f24257cddd939b257f8d",
        "test": "md5:f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "md5:7973b15100ade9c7d40fb424638fde48",
    }
)

# CIFAR-100's 20 superclasses grouped into 10, and those 10 into 3 (index = finer class).
TO_10 = (1, 2, 5, 6, 5, 6, 6, 3, 0, 7, 8, 0, 1, 3, 4, 0, 2, 5, 9, 9)
TO_3 = (0, 0, 0, 0, 0, 1, 2, 2, 2, 2)
CLASS_NAMES_10 = (
    "large animals and reptiles", "aquatic and medium mammals", "fish and small mammals",
    "invertebrates", "people", "plants", "household objects", "large man-made outdoor things",
    "large natural outdoor scenes", "vehicles",
)  # fmt: skip
CLASS_NAMES_3 = ("animals", "plants", "inanimate things")

# Globals a CIFAR pickle may name: numpy's array rebuilders (old and new module paths) and the
# helper that protocol-2 pickles written by Python 3 use for bytes.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class Blob(NamedTuple):
    """A verified file's bytes, where they came from, and how to repair them."""

    source: str
    data: bytes
    fix: str


def load_cifar10(
    data_dir: str | Path | None = None,
    *,
    checksums: Mapping[str, str] = MD5_CIFAR10,
    system_dirs: Sequence[Path] = (),
    fetch: Fetch | None = None,
) -> ImageDataset:
    """Load CIFAR-10 (level "10"); `checksums` maps file name -> checksum ("md5:HEX")."""
    files = _read_files(CIFAR10, data_dir, checksums, system_dirs, fetch)
    x_train, y_train = _split([files[n] for n in CIFAR10.train], {"labels": 10})
    x_test, y_test = _split([files[n] for n in CIFAR10.test], {"labels": 10})
    meta = files[CIFAR10.meta]
    return ImageDataset(
        name="cifar10",
        x_train=x_train,
        x_test=x_test,
        labels_train={"10": y_train["labels"]},
        labels_test={"10": y_test["labels"]},
        default_level="10",
        flip=True,
        class_names={"10": _names(meta, _unpickle(meta), "label_names", 10)},
    )


def load_cifar100(
    data_dir: str | Path | None = None,
    *,
    checksums: Mapping[str, str] = MD5_CIFAR100,
    system_dirs: Sequence[Path] = (),
    fetch: Fetch | None = None,
) -> ImageDataset:
    """Load CIFAR-100 (levels "3", "10", "20" = superclasses, "100" = classes, the default)."""
    files = _read_files(CIFAR100, data_dir, checksums, system_dirs, fetch)
    keys = {"coarse_labels": 20, "fine_labels": 100}
    x_train, y_train = _split([files[n] for n in CIFAR100.train], keys)
    x_test, y_test = _split([files[n] for n in CIFAR100.test], keys)
    meta = files[CIFAR100.meta]
    entry = _unpickle(meta)
    return ImageDataset(
        name="cifar100",
        x_train=x_train,
        x_test=x_test,
        labels_train=_hierarchy(y_train),
        labels_test=_hierarchy(y_test),
        default_level="100",
        flip=True,
        class_names={
            "3": list(CLASS_NAMES_3),
            "10": list(CLASS_NAMES_10),
            "20": _names(meta, entry, "coarse_label_names", 20),
            "100": _names(meta, entry, "fine_label_names", 100),
        },
    )


def _read_files(
    variant: Variant,
    data_dir: str | Path | None,
    checksums: Mapping[str, str],
    system_dirs: Sequence[Path],
    fetch: Fetch | None,
) -> dict[str, Blob]:
    """Every file of `variant`, verified: from an unpacked folder, else from the tarball."""
    spec = RemoteFiles(
        dataset=variant.dataset,
        files=(variant.archive,),
        base_url=BASE_URL,
        remote_suffix="",
        suffixes=("",),
        system_dirs=tuple(Path(d) for d in system_dirs),
    )
    folder = find_unpacked(spec, data_dir, (variant.folder,), variant.files)
    if folder is not None:
        fix = f"delete the folder {folder} so the tarball is read or downloaded instead"
        found = {}
        for name in variant.files:
            data = read_verified(folder / name, checksums.get(name), fix, gz=False)
            found[name] = Blob(str(folder / name), data, fix)
        return found
    archive = obtain(spec, checksums, data_dir, fetch)[variant.archive]
    wanted = {f"{variant.folder}/{name}": name for name in variant.files}
    found = {}
    for member, data in archive_members(archive, spec.fix):
        wanted_name = wanted.get(member)
        if wanted_name is not None:
            source = f"{archive.path} (member {member})"
            check_bytes(data, checksums.get(wanted_name), source, spec.fix)
            found[wanted_name] = Blob(source, data, spec.fix)
    missing = [member for member, name in wanted.items() if name not in found]
    if missing:
        raise MaxlError(f"{archive.path} has no member {missing[0]}; {spec.fix}")
    return found


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that refuses every global outside ALLOWED_GLOBALS."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR file never does")
        return super().find_class(module, name)


def _unpickle(blob: Blob) -> dict[str, Any]:
    """A verified CIFAR pickle as a dict with str keys (the originals have Python 2 str keys)."""
    try:
        entry = _ArraysOnly(io.BytesIO(blob.data), encoding="latin1").load()
    except Exception as err:  # a malformed pickle fails in many ways; report each as one line
        raise MaxlError(
            f"{blob.source} is not a readable CIFAR pickle ({err}); {blob.fix}"
        ) from err
    if not isinstance(entry, dict):
        raise MaxlError(f"{blob.source} holds a {type(entry).__name__}, not a dict; {blob.fix}")
    return {_text(key): value for key, value in entry.items()}


def _text(value: Any) -> Any:
    """Bytes decoded as latin-1 (as Python 2 str became), anything else unchanged."""
    return value.decode("latin1") if isinstance(value, bytes) else value


def _split(
    blobs: list[Blob], keys: Mapping[str, int]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One split's images (uint8 NCHW) and labels per key, from its batch files in order."""
    images: list[np.ndarray] = []
    labels: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    for blob in blobs:
        entry = _unpickle(blob)
        x = entry.get("data")
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.shape[1:] != (3 * 32 * 32,):
            got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise MaxlError(f"{blob.source}: 'data' is {got}, not uint8 [N, 3072]; {blob.fix}")
        images.append(x.reshape(-1, 3, 32, 32))  # each row is the R, G, B planes, row-major
        for key, classes in keys.items():
            labels[key].append(_labels(blob, entry.get(key), key, len(x), classes))
    x_all = np.concatenate(images)  # a fresh, writable, contiguous array
    return torch.from_numpy(x_all), {
        k: torch.from_numpy(np.concatenate(v)) for k, v in labels.items()
    }


def _labels(blob: Blob, value: Any, key: str, n: int, classes: int) -> np.ndarray:
    """The labels stored under `key`: n integers in 0..classes-1, as int64."""
    y = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else None
    if y is None or y.shape != (n,) or (n and not np.issubdtype(y.dtype, np.integer)):
        got = f"{y.dtype} {y.shape}" if y is not None else type(value).__name__
        raise MaxlError(f"{blob.source}: '{key}' is {got}, not {n} integer labels; {blob.fix}")
    if n and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise MaxlError(
            f"{blob.source}: '{key}' spans {int(y.min())}..{int(y.max())}, outside "
            f"0..{classes - 1}; {blob.fix}"
        )
    return y.astype(np.int64)


def _names(blob: Blob, entry: Mapping[str, Any], key: str, count: int) -> list[str]:
    """The `count` class names stored under `key` in a meta file."""
    names = entry.get(key)
    if not isinstance(names, list) or len(names) != count:
        raise MaxlError(f"{blob.source}: '{key}' is not a list of {count} names; {blob.fix}")
    return [str(_text(name)) for name in names]


def _hierarchy(labels: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CIFAR-100's four levels, coarse to fine, from its superclass and class labels."""
    coarse = labels["coarse_labels"]
    ten = torch.tensor(TO_10)[coarse]
    return {"3": torch.tensor(TO_3)[ten], "10": ten, "20": coarse, "100": labels["fine_labels"]}
