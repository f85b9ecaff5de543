import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.model_selection import train_test_split

from maxl.assembly.datasets import load_dataset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_shapes_levels_and_metadata(digits):
    assert digits.name == "digits" and not digits.flip and digits.default_level == "10"
    assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_test.shape == (360, 1, 8, 8)
    assert digits.x_train.dtype == torch.uint8 and digits.x_train.is_contiguous()
    assert digits.levels == ["2", "10"]
    assert digits.class_names == {"2": ["even", "odd"], "10": [str(d) for d in range(10)]}


def test_split_is_the_stratified_80_20_split_with_random_state_0(digits):
    bunch = sklearn_digits()
    train, test = train_test_split(
        np.arange(len(bunch.target)), test_size=0.2, stratify=bunch.target, random_state=0
    )
    # images in original order within each split; pixel v in 0..16 -> round(v * 255 / 16)
    for idx, x, y in ((train, digits.x_train, digits.labels_train),
                      (test, digits.x_test, digits.labels_test)):  # fmt: skip
        idx = sorted(idx)
        expected = [[round(v * 255 / 16) for v in bunch.images[i].ravel()] for i in idx]
        assert x.reshape(len(idx), 64).tolist() == expected
        assert y["10"].tolist() == bunch.target[idx].tolist()
        assert y["2"].tolist() == [int(t) % 2 for t in bunch.target[idx]]
    counts = torch.bincount(digits.labels_test["10"], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: about 20% of ~180 per class


def test_pixel_range(digits):
    assert int(digits.x_train.max()) == 255 and int(digits.x_train.min()) == 0
    assert 128 in digits.x_train.unique().tolist()  # 8 * 255 / 16 = 127.5 rounds to 128


def test_split_is_fixed_regardless_of_seed(digits):
    torch.manual_seed(123)
    np.random.seed(123)
    again = load_dataset("digits")
    assert torch.equal(again.x_train, digits.x_train)
    assert torch.equal(again.labels_test["10"], digits.labels_test["10"])
