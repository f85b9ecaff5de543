"""Agreement between two runs' labels, on hand-made labellings with shares counted by hand."""

import math

import numpy as np
import pytest
import torch

from maxl.analysis.agreement import label_agreement, same_final_class
from maxl.errors import MaxlError
from maxl.run_folder import AuxLabels


def table(aux, psi=(2, 2), rows=(0, 1, 2, 3)) -> AuxLabels:
    n = len(aux)
    return AuxLabels(
        rows=np.array(rows), primary=np.zeros(n, dtype=np.int64), aux=np.array(aux),
        confidence=np.full(n, 0.5), psi=list(psi),
    )  # fmt: skip


def test_shares_of_moved_and_equally_moved_images():
    initial = torch.tensor([0, 0, 0, 0, 1])
    final = torch.tensor([1, 0, 0, 0, 1])  # image 0 moved: 1 of 5
    other = torch.tensor([1, 1, 0, 0, 1])  # images 0 and 1 moved: 2 of 5
    found = label_agreement(initial, final, other)
    assert found.moved == pytest.approx(0.2)
    assert found.other_moved == pytest.approx(0.4)
    assert found.same_final == pytest.approx(0.8)  # all but image 1
    assert found.same_where_moved == 1.0  # image 0 went to class 1 in both


def test_nothing_moved_leaves_the_moved_share_undefined():
    same = torch.tensor([0, 1, 2])
    found = label_agreement(same, same, torch.tensor([0, 1, 0]))
    assert found.moved == 0.0 and math.isnan(found.same_where_moved)
    assert found.same_final == pytest.approx(2 / 3)


def test_labellings_of_other_lengths_are_refused():
    with pytest.raises(MaxlError):
        label_agreement(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0]))


def test_two_tables_that_agree_on_three_of_four_images():
    assert same_final_class(table([0, 1, 2, 3]), table([0, 1, 2, 2])) == 0.75


def test_tables_of_another_psi_or_other_rows_do_not_compare():
    assert math.isnan(same_final_class(table([0, 1, 2, 3]), table([0, 1, 2, 3], psi=(3, 1))))
    other_rows = table([0, 1, 2, 3], rows=(0, 1, 2, 5))
    assert math.isnan(same_final_class(table([0, 1, 2, 3]), other_rows))
