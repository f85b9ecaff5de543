"""Label drift on a hand-made start and end whose shares, NMI and entropy are known."""

import math

import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score

from maxl.analysis.drift import label_drift


def distributions(classes: list[int], k: int = 4, top: float = 0.7) -> torch.Tensor:
    """Each row `top` on its class and the rest spread evenly over the other k - 1."""
    rows = torch.full((len(classes), k), (1 - top) / (k - 1))
    rows[torch.arange(len(classes)), torch.tensor(classes)] = top
    return rows


def test_same_class_share_nmi_within_classes_and_start_entropy():
    start = distributions([0, 1, 0, 1, 2, 3])
    final = torch.tensor([0, 1, 1, 0, 2, 3])
    primary = torch.tensor([0, 0, 0, 0, 1, 1])
    drift = label_drift(start, final, primary, sample=torch.tensor([0, 4]))
    assert drift.same_class == pytest.approx(4 / 6)
    within_first = normalized_mutual_info_score([0, 1, 0, 1], [0, 1, 1, 0])
    within_second = normalized_mutual_info_score([2, 3], [2, 3])
    assert within_first == pytest.approx(0.0, abs=1e-12) and within_second == pytest.approx(1.0)
    assert drift.nmi_within == pytest.approx((4 * within_first + 2 * within_second) / 6)
    expected_entropy = -(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1))
    assert drift.start_entropy == pytest.approx(expected_entropy, rel=1e-6)


def test_no_class_with_two_final_labels_gives_no_nmi():
    start = distributions([0, 1, 2, 3])
    drift = label_drift(start, torch.tensor([0, 0, 2, 2]), torch.tensor([0, 0, 1, 1]),
                        sample=torch.arange(4))  # fmt: skip
    assert drift.nmi_within is None and drift.same_class == 0.5
