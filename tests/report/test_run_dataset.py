"""The data behind the image grids: images made displayable, the dataset checked against the
labels, the class names of the run's primary level."""

import numpy as np
import pytest
import torch

from maxl.data.dataset import ImageDataset
from maxl.errors import MaxlError
from maxl.report.run_dataset import displayable, grid_dataset, primary_class_names
from maxl.run_folder import AuxLabels, SavedRun


def dataset(n=4):
    labels = {"2": torch.arange(n) % 2}
    images = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    return ImageDataset("toy", images, images, labels, labels, "2", False, {"2": ["a", "b"]})


def labels(rows):
    n = len(rows)
    ones = np.ones(n, dtype=np.int64)
    return AuxLabels(rows=np.array(rows), primary=ones, aux=ones, confidence=ones, psi=[1, 1])


def test_float_images_are_stretched_per_channel_and_uint8_kept():
    grey = np.arange(8, dtype=np.uint8).reshape(2, 1, 2, 2)
    assert displayable(grey) is grey
    floats = np.stack([np.full((2, 1, 1), v, dtype=np.float32) for v in (-1.0, 0.0, 3.0)], 1)
    assert displayable(floats)[0, :, 0, 0].tolist() == [0, 0, 0]  # one value per channel
    ramp = np.array([[[[-1.0, 0.0], [1.0, 3.0]]]], dtype=np.float32)
    assert displayable(ramp)[0, 0].tolist() == [[0, 64], [128, 255]]


def test_the_grid_dataset_must_hold_the_rows_the_labels_point_at():
    assert grid_dataset(dataset(), labels([0, 3])).name == "toy"
    with pytest.raises(MaxlError, match="points at training image 4 but toy has 4"):
        grid_dataset(dataset(), labels([0, 4]))
    with pytest.raises(MaxlError, match=r"results\.json is missing"):
        grid_dataset(None, labels([0]))
    with pytest.raises(MaxlError, match="cannot load"):
        grid_dataset(MaxlError("cannot load"), labels([0]))


def test_class_names_come_from_the_run_s_primary_level():
    run = SavedRun(folder=None, metrics=[], results={"primary_level": None})
    assert primary_class_names(run, dataset()) == ["a", "b"]
    assert primary_class_names(SavedRun(None, [], {"primary_level": 5}), dataset()) is None
