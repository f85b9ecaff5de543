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


def test_start_classes_use_training_batch_statistics_and_leave_the_run_as_it_was(tmp_path):
    import copy

    from maxl.analysis.untrained import start_classes
    from maxl.assembly import build_run
    from maxl.config import TrainConfig
    from maxl.data.batches import to_float

    config = TrainConfig(dataset="digits", method="maxl", psi=(3,), train_size=200,
                         batch_size=50, seed=3, device="cpu", out=tmp_path)  # fmt: skip
    run = build_run(config)
    generator = run.method.generator
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    rng = torch.get_rng_state()
    rows = torch.arange(0, 200, 7)
    classes = start_classes(run, rows)

    # the run is untouched: every buffer and weight, the mode and the random state
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())
    assert generator.training and torch.equal(torch.get_rng_state(), rng)

    # independently: each BatchNorm's statistics averaged over the training batches by a hook
    copied = copy.deepcopy(generator).double()
    norms = [m for m in copied.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms, "the test needs a generator with BatchNorm"
    seen: dict[torch.nn.Module, list[tuple[torch.Tensor, torch.Tensor]]] = {n: [] for n in norms}

    def keep(module, inputs, output):
        x = inputs[0].transpose(0, 1).flatten(1)  # channels first, then every other axis
        seen[module].append((x.mean(1), x.var(1)))  # unbiased, as BatchNorm keeps it

    hooks = [n.register_forward_hook(keep) for n in norms]
    copied.train()
    with torch.no_grad():
        for batch in torch.arange(200).split(50):
            x = to_float(run.x_train[batch], run.mean, run.std).double()
            copied(x, run.y_train[batch])
    for hook in hooks:
        hook.remove()
    for norm, stats in seen.items():
        norm.running_mean.copy_(torch.stack([m for m, _ in stats]).mean(0))
        norm.running_var.copy_(torch.stack([v for _, v in stats]).mean(0))
    copied.eval()
    with torch.no_grad():
        x = to_float(run.x_train[rows], run.mean, run.std).double()
        expected = copied(x, run.y_train[rows]).argmax(1)
    assert classes.tolist() == expected.tolist()
