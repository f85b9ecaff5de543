"""SVHN (cropped digits) from the official MATLAB files train_32x32.mat and test_32x32.mat, found
where torchvision puts them (the root itself) or downloaded, each checked by its published MD5
before it is parsed."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from scipy.io import loadmat

from maxl.data.dataset import ImageDataset
from maxl.data.sources import Fetch, LocalFile, RemoteFiles, obtain
from maxl.errors import MaxlError

TRAIN, TEST = "train_32x32.mat", "test_32x32.mat"
# MD5s as published by torchvision (torchvision/datasets/svhn.py).
MD5: Mapping[str, str] = MappingProxyType(
    {
        TRAIN: "md5:e26dedcc434d2e4c54c9b2d4a06d8373",
        TEST: "md5:eb5a983be6a315427106f1b164d9cef3",
    }
)
BASE_URL = "http://ufldl.stanford.edu/housenumbers/"
FIX = "delete it so it is downloaded again"


def load_svhn(
    data_dir: str | Path | None = None,
    *,
    checksums: Mapping[str, str] = MD5,
    system_dirs: Sequence[Path] = (),
    fetch: Fetch | None = None,
) -> ImageDataset:
    """Load SVHN (level "10", digit d as label d); `checksums` maps file name -> checksum."""
    spec = RemoteFiles(
        dataset="svhn",
        files=(TRAIN, TEST),
        base_url=BASE_URL,
        remote_suffix="",
        suffixes=("",),
        system_dirs=tuple(Path(d) for d in system_dirs),
        fix=FIX,
    )
    files = obtain(spec, checksums, data_dir, fetch)
    x_train, y_train = _split(files[TRAIN])
    x_test, y_test = _split(files[TEST])
    return ImageDataset(
        name="svhn",
        x_train=x_train,
        x_test=x_test,
        labels_train={"10": y_train},
        labels_test={"10": y_test},
        default_level="10",
        flip=False,
        class_names={"10": [str(digit) for digit in range(10)]},
    )


def _split(file: LocalFile) -> tuple[torch.Tensor, torch.Tensor]:
    """One split's images as uint8 [N, 3, 32, 32] and labels 0..9 (the file stores 0 as 10)."""
    try:
        mat = loadmat(io.BytesIO(file.data))
    except Exception as err:  # scipy fails on a damaged file in many ways; report each as one line
        raise MaxlError(f"{file.path} is not a readable MATLAB file ({err}); {FIX}") from err
    x, y = mat.get("X"), mat.get("y")
    if (
        not isinstance(x, np.ndarray)
        or x.dtype != np.uint8
        or x.shape[:3] != (32, 32, 3)
        or x.ndim != 4
    ):
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else "missing"
        raise MaxlError(f"{file.path}: X is {got}, not uint8 (32, 32, 3, N); {FIX}")
    n = x.shape[3]
    if n < 1 or not isinstance(y, np.ndarray) or y.size != n or y.dtype.kind not in "iu":
        got = f"{y.dtype} {y.shape}" if isinstance(y, np.ndarray) else "missing"
        raise MaxlError(f"{file.path}: y is {got}, not one integer label per image of X; {FIX}")
    y = y.reshape(-1).astype(np.int64)
    if int(y.min()) < 1 or int(y.max()) > 10:
        raise MaxlError(f"{file.path}: y spans {int(y.min())}..{int(y.max())}, not 1..10; {FIX}")
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
    return torch.from_numpy(images), torch.from_numpy(y % 10)
