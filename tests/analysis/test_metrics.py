"""Each analysis metric against a hand computation on a tiny input (and NMI also against
scikit-learn's implementation)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import normalized_mutual_info_score

from maxl.analysis.metrics import (
    class_usage,
    entropy,
    gradient_cosine,
    label_change,
    marginal_entropy,
    mean_label_entropy,
    nmi_within_groups,
    normalized_mutual_information,
)


def test_gradient_cosine_flattens_all_tensors_into_one_vector():
    first = [torch.tensor([1.0, 0.0]), torch.tensor([[0.0]])]
    second = [torch.tensor([1.0, 1.0]), torch.tensor([[1.0]])]
    # (1, 0, 0) . (1, 1, 1) / (1 * sqrt 3)
    assert gradient_cosine(first, second) == pytest.approx(1 / math.sqrt(3))
    assert gradient_cosine(first, [-g for g in first]) == pytest.approx(-1.0)
    assert gradient_cosine(first, [torch.zeros(2), torch.zeros(1, 1)]) == 0.0


def test_gradient_cosine_is_not_the_mean_of_per_tensor_cosines():
    first = [torch.tensor([1.0]), torch.tensor([10.0])]
    second = [torch.tensor([1.0]), torch.tensor([-10.0])]
    # per tensor: +1 and -1 (mean 0); flattened: (1 - 100) / 101
    assert gradient_cosine(first, second) == pytest.approx(-99 / 101)


def test_entropy_in_nats_with_zero_log_zero():
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert entropy(p).tolist() == pytest.approx([math.log(2), 0.0, math.log(4)])


def test_mean_and_marginal_entropy_separate_soft_labels_from_spread_labels():
    hard_spread = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert mean_label_entropy(hard_spread) == 0.0
    assert marginal_entropy(hard_spread) == pytest.approx(math.log(2))
    soft_same = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert mean_label_entropy(soft_same) == pytest.approx(math.log(2) / 2)
    # mean label (0.75, 0.25)
    assert marginal_entropy(soft_same) == pytest.approx(
        -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    )


def test_class_usage_counts_the_most_likely_class():
    labels = torch.tensor([[0.6, 0.4, 0.0], [0.1, 0.2, 0.7], [0.9, 0.05, 0.05], [0.3, 0.3, 0.4]])
    assert class_usage(labels) == pytest.approx([0.5, 0.0, 0.5])


def test_nmi_by_hand():
    same = torch.tensor([0, 0, 1, 1])
    assert normalized_mutual_information(same, torch.tensor([5, 5, 7, 7])) == pytest.approx(1.0)
    assert normalized_mutual_information(same, torch.tensor([0, 1, 0, 1])) == pytest.approx(0.0)
    a, b = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 1])
    h_a = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    h_b = math.log(2)
    h_ab = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))  # cells 2/4, 1/4, 1/4
    expected = (h_a + h_b - h_ab) / ((h_a + h_b) / 2)
    assert normalized_mutual_information(a, b) == pytest.approx(expected)
    assert normalized_mutual_information(torch.zeros(3), torch.zeros(3)) == 1.0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=2, max_size=40),
)
def test_nmi_matches_scikit_learn(pairs):
    a, b = (np.array(column) for column in zip(*pairs, strict=True))
    ours = normalized_mutual_information(torch.from_numpy(a), torch.from_numpy(b))
    assert ours == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-9)


def test_nmi_within_groups_weights_groups_where_human_labels_vary():
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    generated = torch.tensor([0, 0, 1, 1, 2, 3, 2, 3, 4, 5])
    human = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])  # group 2: one human class, left out
    # group 0 agrees exactly (NMI 1), group 1 is independent (NMI 0): (4 * 1 + 4 * 0) / 8
    assert nmi_within_groups(generated, human, groups) == pytest.approx(0.5)
    assert nmi_within_groups(generated, torch.zeros(10), groups) is None


def test_label_change_is_the_share_of_items_whose_class_differs():
    before = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    after = torch.tensor([0, 1, 3, 3, 4, 0, 6, 6])  # items 2, 5 and 7 moved: 3 of 8
    assert label_change(before, after) == 3 / 8
    assert label_change(after, before) == 3 / 8
    assert label_change(before, before.clone()) == 0.0
    assert label_change(before, (before + 1) % 8) == 1.0
    assert (
        label_change(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)) == 0.0
    )


def test_label_change_refuses_labellings_of_different_lengths():
    with pytest.raises(ValueError, match="3 labels before, 2 after"):
        label_change(torch.tensor([0, 1, 2]), torch.tensor([0, 1]))
