import pytest
import torch

from maxl import Hierarchy, MaxlError
from maxl.data import load_dataset
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
