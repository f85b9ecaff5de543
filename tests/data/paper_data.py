"""Small files in the real on-disk formats of the paper's datasets, written by the tests: CIFAR
pickles (as Python 2 wrote them) and tarballs, MNIST IDX .gz, SVHN MATLAB v5, CINIC-10 PNGs.

Each fake keeps the arrays it wrote, so tests check the loaders against them, and the checksums
of its files, so tests pass those instead of the real ones.
(A uniquely named module, since `conftest` is a shared name across test folders.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.io
from data_helpers import idx_bytes
from PIL import Image

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]  # fmt: skip


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` (SHORT_BINSTRING/BINSTRING) and numpy's array rebuilder
    under its old module path, as the CIFAR files were written by Python 2's cPickle."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def cifar_pickle(entry: dict[bytes, object], *, py2: bool = True) -> bytes:
    """A CIFAR-style pickle with byte-string keys: Python 2 `str` opcodes, or Python 3 bytes."""
    if not py2:
        return pickle.dumps(entry, protocol=2)
    out = io.BytesIO()
    Py2Pickler(out, protocol=2).dump(entry)
    return out.getvalue()


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A .tar.gz holding `members` (path -> bytes), byte-identical each time it is built."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """CIFAR's row format: per image the 1024 red, then green, then blue values, row by row."""
    n = len(images)
    return np.concatenate([images[:, c].reshape(n, 32 * 32) for c in range(3)], axis=1)


class FakeCifar:
    """A small CIFAR-10 (5 train batches of 3 images, a test batch of 4) or CIFAR-100 (7 train,
    5 test images) in the real format: the unpacked folder and the tarball."""

    def __init__(self, variant: str = "cifar10", *, seed: int = 0, py2: bool = True) -> None:
        rng = np.random.default_rng(seed)
        self.variant = variant
        if variant == "cifar10":
            self.folder, self.archive = "cifar-10-batches-py", "cifar-10-python.tar.gz"
            sizes = {f"data_batch_{i}": 3 for i in range(1, 6)} | {"test_batch": 4}
            self.meta_name = "batches.meta"
            meta = {b"num_cases_per_batch": 3, b"label_names": [n.encode() for n in CIFAR10_NAMES],
                    b"num_vis": 3072}  # fmt: skip
        else:
            self.folder, self.archive = "cifar-100-python", "cifar-100-python.tar.gz"
            sizes = {"train": 7, "test": 5}
            self.meta_name = "meta"
            meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                    b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}  # fmt: skip
        self.images = {k: rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
                       for k, n in sizes.items()}  # fmt: skip
        self.labels, self.raw = {}, {}
        for name, n in sizes.items():
            entry = {b"batch_label": f"{name} of the fake".encode(),
                     b"data": cifar_rows(self.images[name]),
                     b"filenames": [f"img_{i}.png".encode() for i in range(n)]}  # fmt: skip
            if variant == "cifar10":
                self.labels[name] = {"labels": rng.integers(0, 10, n).tolist()}
            else:
                coarse = rng.integers(0, 20, n)
                fine = coarse * 5 + rng.integers(0, 5, n)
                self.labels[name] = {"coarse_labels": coarse.tolist(), "fine_labels": fine.tolist()}
            entry |= {key.encode(): value for key, value in self.labels[name].items()}
            self.raw[name] = cifar_pickle(entry, py2=py2)
        self.raw[self.meta_name] = cifar_pickle(meta, py2=py2)
        self.meta = meta
        self.archive_bytes = tar_gz(
            {f"{self.folder}/{name}": data for name, data in self.raw.items()}
            | {f"{self.folder}/readme.html": b"<html></html>"}
        )
        self.checksums = {name: md5(data) for name, data in self.raw.items()}
        self.checksums[self.archive] = md5(self.archive_bytes)

    def split(self, names: list[str]) -> tuple[np.ndarray, dict[str, list[int]]]:
        """The images and labels of these batch files, concatenated in order."""
        x = np.concatenate([self.images[n] for n in names])
        keys = self.labels[names[0]]
        return x, {key: [v for n in names for v in self.labels[n][key]] for key in keys}

    def write_folder(self, root: Path) -> Path:
        folder = root / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.raw.items():
            (folder / name).write_bytes(data)
        return folder

    def write_archive(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        (root / self.archive).write_bytes(self.archive_bytes)
        return root / self.archive


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip


class FakeMnist:
    """MNIST-format IDX files (12 train, 6 test images) and their .gz, with MD5s of the .gz."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = {s: rng.integers(0, 256, (n, 28, 28)) for s, n in (("train", 12), ("t10k", 6))}
        self.y = {s: rng.integers(0, 10, len(x)) for s, x in self.x.items()}
        self.raw = {}
        for split in ("train", "t10k"):
            x, y = self.x[split], self.y[split]
            self.raw[f"{split}-images-idx3-ubyte"] = idx_bytes(x.ravel().tolist(), x.shape)
            self.raw[f"{split}-labels-idx1-ubyte"] = idx_bytes(y.tolist(), y.shape)
        self.gz = {f"{k}.gz": gzip.compress(v, mtime=0) for k, v in self.raw.items()}
        self.checksums = {k: md5(v) for k, v in self.gz.items()}

    def write(self, folder: Path, *, gz: bool = True, names: tuple[str, ...] = MNIST_FILES) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            if gz:
                (folder / f"{name}.gz").write_bytes(self.gz[f"{name}.gz"])
            else:
                (folder / name).write_bytes(self.raw[name])
        return folder


def svhn_mat(images: np.ndarray, digits: np.ndarray) -> bytes:
    """A MATLAB v5 file as SVHN's: X uint8 (32, 32, 3, N), y uint8 (N, 1) with 10 for digit 0."""
    buffer = io.BytesIO()
    x = np.ascontiguousarray(images.transpose(2, 3, 1, 0))  # X[h, w, c, n] = image n at (c, h, w)
    y = np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]
    scipy.io.savemat(buffer, {"X": x, "y": y}, format="5")
    return buffer.getvalue()


class FakeSvhn:
    """train_32x32.mat (10 images, every digit once) and test_32x32.mat (4 images)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = {s: rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
                  for s, n in (("train", 10), ("test", 4))}  # fmt: skip
        self.y = {"train": rng.permutation(10), "test": np.array([0, 9, 0, 5])}
        self.raw = {f"{s}_32x32.mat": svhn_mat(self.x[s], self.y[s]) for s in ("train", "test")}
        self.checksums = {k: md5(v) for k, v in self.raw.items()}

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.raw.items():
            (folder / name).write_bytes(data)
        return folder


def png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [3, H, W] (RGB) or [H, W] (greyscale) image."""
    buffer = io.BytesIO()
    pixels = image if image.ndim == 2 else image.transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeCinic:
    """CINIC-10's layout {train,valid,test}/<class>/*.png with `per_class` images per class and
    split; the first train airplane is greyscale, as a few ImageNet-derived ones are."""

    def __init__(self, per_class: int = 2, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.per_class = per_class
        self.files: dict[str, bytes] = {}  # "split/class/name.png" -> PNG bytes
        self.expected: dict[str, list[tuple[int, str, np.ndarray]]] = {}  # RGB [3, 32, 32]
        for split in ("train", "valid", "test"):
            rows = []
            for label, name in enumerate(CIFAR10_NAMES):
                for i in range(per_class):
                    file = (
                        f"cifar10-{split}-{label * 100 + i}.png" if i % 2 else f"n0{i}_{label}.png"
                    )
                    if (split, label, i) == ("train", 0, 0):
                        grey = rng.integers(0, 256, (32, 32), dtype=np.uint8)
                        data, rgb = png(grey), np.stack([grey] * 3)
                    else:
                        rgb = rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)
                        data = png(rgb)
                    self.files[f"{split}/{name}/{file}"] = data
                    rows.append((label, file, rgb))
            self.expected[split] = sorted(rows, key=lambda row: row[:2])
        self.archive_bytes = tar_gz({f"./{path}": data for path, data in self.files.items()})
        self.checksums = {"CINIC-10.tar.gz": md5(self.archive_bytes)}

    def arrays(self, split: str) -> tuple[np.ndarray, list[int]]:
        """The split's images and labels in the loader's order: by class, then file name."""
        rows = self.expected[split]
        return np.stack([rgb for _, _, rgb in rows]), [label for label, _, _ in rows]

    def write_folder(self, folder: Path) -> Path:
        for path, data in self.files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        return folder

    def write_archive(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        (root / "CINIC-10.tar.gz").write_bytes(self.archive_bytes)
        return root / "CINIC-10.tar.gz"
