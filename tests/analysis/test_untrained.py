"""BatchNorm calibration of an untrained generator and the final classes of a label table."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from maxl.analysis.untrained import calibrate_batch_norm, final_classes
from maxl.errors import MaxlError
from maxl.run_folder import write_aux_labels


class NormOnly(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(3)

    def forward(self, x, y):
        return self.norm(x.flatten(1))


def test_calibration_gives_the_mean_and_variance_of_all_training_images():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 3, 1, 1), dtype=torch.uint8, generator=g)
    run = SimpleNamespace(
        x_train=x, y_train=torch.zeros(6, dtype=torch.long), mean=torch.zeros(3),
        std=torch.ones(3), config=SimpleNamespace(batch_size=3),
    )  # fmt: skip
    generator = NormOnly()
    calibrate_batch_norm(generator, run)
    images = x.flatten(1).double() / 255
    first, second = images[:3], images[3:]  # a cumulative average of the two batches' stats
    expected_var = (first.var(0) + second.var(0)) / 2  # unbiased, as BatchNorm keeps it
    torch.testing.assert_close(generator.norm.running_mean.double(), images.mean(0))
    torch.testing.assert_close(generator.norm.running_var.double(), expected_var)


def test_final_classes_come_from_the_table_of_the_same_rows(tmp_path):
    arrays = {
        "rows": np.array([3, 5, 7]), "primary": np.array([0, 0, 1]), "aux": np.array([1, 0, 2]),
        "confidence": np.array([0.5, 0.6, 0.7], dtype=np.float32), "psi": np.array([2, 1]),
    }  # fmt: skip
    write_aux_labels(tmp_path, **arrays)
    assert final_classes(tmp_path, torch.tensor([3, 5, 7])).tolist() == [1, 0, 2]
    with pytest.raises(MaxlError, match="other training rows"):
        final_classes(tmp_path, torch.tensor([3, 5, 8]))
