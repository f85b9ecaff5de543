import pytest
import torch

from maxl import Hierarchy, MaxlError
from maxl.assembly.datasets import load_dataset
from maxl.task import choose_psi, resolve_task


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_subset_is_fixed_by_the_seed(digits):
    a = resolve_task(digits, None, 100, seed=3)
    b = resolve_task(digits, None, 100, seed=3)
    c = resolve_task(digits, None, 100, seed=4)
    assert len(a.train_indices) == 100
    assert torch.equal(a.train_indices, b.train_indices)
    assert not torch.equal(a.train_indices, c.train_indices)
    assert torch.equal(a.y_train, digits.labels_train["10"][a.train_indices])


def test_parity_level_has_the_digits_as_human_labels(digits):
    task = resolve_task(digits, "2", None, seed=0)
    assert task.human == Hierarchy([5, 5])
    # even digits 0, 2, 4, 6, 8 fill block 0 in order, odd digits block 1
    digit = digits.labels_train["10"]
    expected = torch.where(digit % 2 == 0, digit // 2, 5 + digit // 2)
    assert torch.equal(task.fine_train, expected)


def test_finest_level_has_no_human_labels(digits):
    task = resolve_task(digits, None, None, seed=0)
    assert task.human is None and task.fine_train is None


def test_unknown_level_is_a_clear_error(digits):
    with pytest.raises(MaxlError, match="choose --primary-level from 2, 10"):
        resolve_task(digits, "3", None, seed=0)


@pytest.mark.parametrize(
    ("level", "psi", "expected"),
    [
        ("10", None, [5] * 10),
        ("10", (3,), [3] * 10),
        ("2", None, [5, 5]),
        ("2", (2, 7), [2, 7]),
    ],
)
def test_choose_psi(digits, level, psi, expected):
    task = resolve_task(digits, level, None, seed=0)
    assert choose_psi(task, "maxl", psi).psi == expected


def test_psi_of_the_wrong_length_is_a_clear_error(digits):
    task = resolve_task(digits, "2", None, seed=0)
    with pytest.raises(MaxlError, match=r"--psi has 3 entries but .* has 2 classes"):
        choose_psi(task, "maxl", (1, 2, 3))


def test_human_rejects_a_psi_that_contradicts_the_hierarchy(digits):
    task = resolve_task(digits, "2", None, seed=0)
    with pytest.raises(MaxlError, match="human hierarchy fixes"):
        choose_psi(task, "human", (2, 8))


def three_level_dataset():
    """Labels 0..7 at the finest level, their halves (4) and quarters (2) above."""
    from maxl.data import ImageDataset

    fine = torch.arange(16) % 8
    levels = {"2": fine // 4, "4": fine // 2, "8": fine}
    return ImageDataset(
        name="three-levels",
        x_train=torch.zeros(16, 1, 4, 4, dtype=torch.uint8),
        x_test=torch.zeros(16, 1, 4, 4, dtype=torch.uint8),
        labels_train=levels,
        labels_test=levels,
        default_level="8",
        flip=False,
        class_names={},
    )


def test_aux_level_picks_the_human_labels_between_primary_and_finest():
    dataset = three_level_dataset()
    middle = resolve_task(dataset, "2", None, seed=0, aux_level="4")
    finest = resolve_task(dataset, "2", None, seed=0)
    assert middle.human == Hierarchy([2, 2]) and finest.human == Hierarchy([4, 4])
    assert torch.equal(middle.fine_train, torch.arange(16) % 8 // 2)
    assert torch.equal(finest.fine_train, torch.arange(16) % 8)


@pytest.mark.parametrize("aux_level", ["2", "3"])
def test_aux_level_must_be_finer_than_the_primary_level(aux_level):
    with pytest.raises(MaxlError, match="choose one of 4, 8"):
        resolve_task(three_level_dataset(), "2", None, seed=0, aux_level=aux_level)
