"""The pure grouping behind the image grids: which classes get grids, which images each row has."""

import numpy as np
import pytest

from maxl.report.grid import AuxRow, group_rows, pick_classes
from maxl.run_folder import AuxLabels


def test_pick_classes_prefers_the_largest_psi_and_breaks_ties_by_index():
    assert pick_classes([1, 3, 2, 3, 1], limit=4) == [1, 3, 2, 0]
    assert pick_classes([2, 2, 2], limit=4) == [0, 1, 2]
    assert pick_classes([5, 1], limit=1) == [0]


def test_group_rows_orders_by_confidence_caps_and_counts_within_the_block():
    # psi [2, 3]: class 0 owns aux 0..1, class 1 owns aux 2..4.
    primary = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    aux = np.array([2, 3, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    confidence = np.array([0.5, 0.9, 1.0, 0.7, 0.6, 0.95, 0.1, 0.2, 0.3, 0.4, 0.8, 0.85, 0.6])
    rows = np.arange(100, 113)  # dataset rows differ from positions in the file
    labels = AuxLabels(rows=rows, primary=primary, aux=aux, confidence=confidence, psi=[2, 3])
    grouped = group_rows(labels, 1, per_row=8)
    # aux 2 holds positions 0,3,4,5,6,7,8,9,10,11,12 (11 images of class 1's 12).
    # By confidence: 5 (.95), 11 (.85), 10 (.8), 3 (.7), 4 (.6), 12 (.6, later), 0 (.5), 9 (.4)
    assert grouped == [
        AuxRow(2, [105, 111, 110, 103, 104, 112, 100, 109], 11, pytest.approx(11 / 12)),
        AuxRow(3, [101], 1, pytest.approx(1 / 12)),
        AuxRow(4, [], 0, 0.0),
    ]
    assert group_rows(labels, 0, per_row=8) == [AuxRow(0, [102], 1, 1.0), AuxRow(1, [], 0, 0.0)]
    assert group_rows(labels, 1, per_row=2)[0].rows == [105, 111]


def test_group_rows_of_a_class_without_images_gives_empty_rows():
    labels = AuxLabels(
        rows=np.array([0]),
        primary=np.array([0]),
        aux=np.array([0]),
        confidence=np.array([1.0]),
        psi=[1, 2],
    )
    assert group_rows(labels, 1) == [AuxRow(1, [], 0, 0.0), AuxRow(2, [], 0, 0.0)]
