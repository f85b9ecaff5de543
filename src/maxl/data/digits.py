"""scikit-learn's bundled 8x8 digits (no download): a tiny dataset for tests and smoke runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from maxl.data.dataset import ImageDataset


def load_digits(data_dir: str | Path | None = None) -> ImageDataset:
    """Digits as uint8 [N, 1, 8, 8], levels "2" (parity) and "10", fixed stratified 80/20 split.

    `data_dir` is ignored (the data ships with scikit-learn); the split never depends on a seed.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    target = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(target)), test_size=0.2, stratify=target, random_state=0
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)

    def labels(idx: np.ndarray) -> dict[str, torch.Tensor]:
        y = torch.from_numpy(target[idx])
        return {"2": y % 2, "10": y}

    return ImageDataset(
        name="digits",
        x_train=torch.from_numpy(np.ascontiguousarray(images[train_idx])),
        x_test=torch.from_numpy(np.ascontiguousarray(images[test_idx])),
        labels_train=labels(train_idx),
        labels_test=labels(test_idx),
        default_level="10",
        flip=False,
        class_names={"2": ["even", "odd"], "10": [str(d) for d in range(10)]},
    )
