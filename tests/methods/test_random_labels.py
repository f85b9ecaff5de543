"""`random`: fixed, seeded, uniform auxiliary classes inside each image's primary block."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare

from maxl.assembly import METHOD_NAMES, build_method
from maxl.assembly.datasets import load_dataset
from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy
from maxl.methods.random_labels import RandomLabels
from maxl.task import choose_psi, resolve_task

CPU = torch.device("cpu")
# ψ = [3, 1, 2], blocks written out by hand.
BLOCKS = {0: {0, 1, 2}, 1: {3}, 2: {4, 5}}


def primary_labels(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, (n,), generator=torch.Generator().manual_seed(seed))


def labels_of(method: RandomLabels, n: int) -> torch.Tensor:
    return method.targets(None, None, torch.arange(n))


def test_every_label_lies_in_its_primary_block() -> None:
    y = primary_labels(500)
    labels = labels_of(RandomLabels(y, Hierarchy([3, 1, 2]), seed=0, device=CPU), 500)
    assert labels.dtype == torch.int64 and labels.shape == (500,)
    for yi, label in zip(y.tolist(), labels.tolist(), strict=True):
        assert label in BLOCKS[yi]


def test_labels_are_fixed_per_row() -> None:
    y = primary_labels(200)
    method = RandomLabels(y, Hierarchy([3, 1, 2]), seed=5, device=CPU)
    everything = labels_of(method, 200)
    rows = torch.tensor([7, 3, 199, 7, 0])
    for _ in range(3):  # as in successive epochs
        assert method.targets(None, None, rows).tolist() == [everything[r] for r in rows.tolist()]
    assert torch.equal(labels_of(method, 200), everything)


def test_same_seed_same_labels_other_seed_other_labels() -> None:
    y, h = primary_labels(300), Hierarchy([3, 1, 2])
    a = labels_of(RandomLabels(y, h, seed=1, device=CPU), 300)
    b = labels_of(RandomLabels(y, h, seed=1, device=CPU), 300)
    c = labels_of(RandomLabels(y, h, seed=2, device=CPU), 300)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_labels_are_uniform_within_each_block() -> None:
    # 3000 rows per class. Chi-square goodness of fit against the uniform distribution on each
    # block: under uniformity p < 0.001 happens one time in a thousand (and the seed is fixed, so
    # the test is deterministic); an off-by-one or a biased draw (e.g. a block edge never drawn,
    # or one class at twice the rate) gives p far below that at this sample size.
    y = torch.arange(3).repeat_interleave(3000)
    labels = labels_of(RandomLabels(y, Hierarchy([3, 1, 2]), seed=0, device=CPU), len(y))
    for i, block in BLOCKS.items():
        counts = [int((labels[y == i] == k).sum()) for k in sorted(block)]
        assert sum(counts) == 3000
        if len(block) > 1:
            assert chisquare(counts).pvalue > 1e-3, counts


def test_rows_are_drawn_independently_of_their_position() -> None:
    # A label that follows the row index (e.g. n % ψ) would be uniform but not random: the
    # labels of consecutive rows of one class must not repeat a fixed cycle.
    y = torch.zeros(3000, dtype=torch.long)
    labels = labels_of(RandomLabels(y, Hierarchy([3]), seed=0, device=CPU), 3000)
    same_as_next = (labels[1:] == labels[:-1]).float().mean().item()
    assert abs(same_as_next - 1 / 3) < 0.05  # std of the mean ≈ sqrt(2/9 / 3000) ≈ 0.009


def test_a_block_of_one_always_gives_its_class() -> None:
    y = torch.ones(50, dtype=torch.long)
    for seed in range(5):
        labels = labels_of(RandomLabels(y, Hierarchy([3, 1, 2]), seed=seed, device=CPU), 50)
        assert labels.tolist() == [3] * 50


def test_labels_outside_the_hierarchy_raise() -> None:
    with pytest.raises(MaxlError, match="3 classes"):
        RandomLabels(torch.tensor([0, 3]), Hierarchy([3, 1, 2]), seed=0, device=CPU)


def test_build_method_builds_random_labels_for_the_training_rows() -> None:
    assert "random" in METHOD_NAMES
    config = TrainConfig(dataset="digits", method="random", psi=(4,), train_size=300, seed=3)
    task = resolve_task(load_dataset("digits"), None, config.train_size, config.seed)
    hierarchy = choose_psi(task, config.method, config.psi)
    method = build_method(config, task, hierarchy, lambda: None, CPU)
    assert isinstance(method, RandomLabels)
    labels = labels_of(method, len(task.y_train))
    assert torch.equal(labels // 4, task.y_train)  # ψ = [4] * 10: block of class i is 4i..4i+3
