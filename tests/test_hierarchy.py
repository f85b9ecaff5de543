import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maxl import Hierarchy, MaxlError, hierarchy_from_labels, mask_softmax


def test_blocks_are_contiguous_and_follow_psi():
    h = Hierarchy([3, 1, 1, 1, 3, 1])
    assert h.num_primary == 6
    assert h.num_aux == 10
    assert [list(h.block(i)) for i in range(6)] == [[0, 1, 2], [3], [4], [5], [6, 7, 8], [9]]


def test_mask_marks_the_block_of_each_label():
    h = Hierarchy([2, 1, 3])
    mask = h.mask(torch.tensor([2, 0, 1]))
    expected = np.array([[0, 0, 0, 1, 1, 1], [1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]], dtype=bool)
    assert np.array_equal(mask.numpy(), expected)


@pytest.mark.parametrize("psi", [[], [2, 0], [2, -1], [1.5, 2]])
def test_bad_psi_is_a_clear_error(psi):
    with pytest.raises(MaxlError, match="ψ"):
        Hierarchy(psi)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.tensor([0, 3]), "0..3 but ψ has 3 classes"),
        (torch.tensor([-1, 0]), "ψ has 3 classes"),
        (torch.tensor([0.0, 1.0]), "integer"),
        (torch.tensor([[0, 1]]), "1-D"),
    ],
)
def test_bad_labels_are_a_clear_error(labels, message):
    with pytest.raises(MaxlError, match=message):
        Hierarchy([1, 2, 3]).mask(labels)


def test_hierarchy_from_labels_lays_fine_classes_out_block_by_block():
    # fine classes 0..4 under primary classes: 0->1, 1->0, 2->1, 3->0, 4->1
    fine = torch.tensor([0, 1, 2, 3, 4, 0, 3])
    primary = torch.tensor([1, 0, 1, 0, 1, 1, 0])
    h, fine_to_aux = hierarchy_from_labels(primary, fine)
    assert h.psi == [2, 3]
    assert fine_to_aux.tolist() == [2, 0, 3, 1, 4]
    for f, p in zip(fine.tolist(), primary.tolist(), strict=True):
        assert fine_to_aux[f].item() in h.block(p)


def test_fine_labels_that_do_not_nest_are_a_clear_error():
    with pytest.raises(MaxlError, match="nest"):
        hierarchy_from_labels(torch.tensor([0, 1]), torch.tensor([0, 0]))


def test_mask_softmax_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.tensor([[False, True, True, False]])
    e = np.exp([2.0, 3.0])
    expected = [0.0, e[0] / e.sum(), e[1] / e.sum(), 0.0]
    assert np.allclose(mask_softmax(logits, mask).numpy(), [expected], atol=1e-7)


@settings(max_examples=50, deadline=None)
@given(
    psi=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    scale=st.sampled_from([1.0, 1e2, 1e4]),
    seed=st.integers(0, 10_000),
)
def test_mask_softmax_properties(psi, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    h = Hierarchy(psi)
    y = torch.randint(0, h.num_primary, (7,), generator=gen)
    logits = scale * (2 * torch.rand(7, h.num_aux, generator=gen) - 1)
    probs = mask_softmax(logits, h.mask(y))
    mask = h.mask(y)
    assert torch.isfinite(probs).all()
    assert torch.all(probs[~mask] == 0)
    assert torch.allclose(probs.sum(dim=1), torch.ones(7), atol=1e-6)
    size_one = torch.tensor([h.psi[label] == 1 for label in y.tolist()])
    assert torch.all(probs[size_one].max(dim=1).values == 1)


def test_mask_softmax_survives_extreme_logits_in_gradients():
    logits = torch.tensor([[1e4, -1e4, 5e3, -5e3]], requires_grad=True)
    mask = torch.tensor([[True, True, False, True]])
    probs = mask_softmax(logits, mask)
    (probs * torch.arange(4.0)).sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert probs[0, 0].item() == 1.0
