"""Fixtures shared across test modules."""

import numpy as np
import pytest


@pytest.fixture
def npz_with_fine_labels(tmp_path):
    """60 + 30 random 8x8 images; 4 fine classes nested in 2 primary ones (fine // 2)."""
    rng = np.random.default_rng(0)
    fine_train, fine_test = np.arange(60) % 4, np.arange(30) % 4
    path = tmp_path / "toy.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (60, 8, 8), dtype=np.uint8),
        y_train=fine_train // 2,
        x_test=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
        y_test=fine_test // 2,
        fine_train=fine_train,
        fine_test=fine_test,
    )
    return path
