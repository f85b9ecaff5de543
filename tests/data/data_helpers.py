"""Helpers for the data tests: small IDX files written byte by byte with struct.

(A uniquely named module, since `conftest` is a shared name across test folders.)
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_bytes(values: list[int], shape: tuple[int, ...], code: int = 0x08, fmt: str = "B") -> bytes:
    """IDX bytes built by hand: magic 0,0,code,ndim; big-endian dims; big-endian values."""
    header = struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + struct.pack(f">{len(values)}{fmt}", *values)


class FakeFashion:
    """Small Fashion-MNIST-format files: 20 train and 10 test 28x28 images with known content."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = {
            "train": rng.integers(0, 256, (20, 28, 28)),
            "t10k": rng.integers(0, 256, (10, 28, 28)),
        }
        self.y = {"train": np.arange(20) % 10, "t10k": rng.permutation(10)}
        self.raw = {}
        for split in ("train", "t10k"):
            x, y = self.x[split], self.y[split]
            self.raw[f"{split}-images-idx3-ubyte"] = idx_bytes(x.ravel().tolist(), x.shape)
            self.raw[f"{split}-labels-idx1-ubyte"] = idx_bytes(y.tolist(), y.shape)
        self.checksums = {k: hashlib.sha256(v).hexdigest() for k, v in self.raw.items()}

    def write(self, folder: Path, *, gz: bool = True, names: tuple[str, ...] = FILES) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(self.raw[name]))
            else:
                (folder / name).write_bytes(self.raw[name])
        return folder
