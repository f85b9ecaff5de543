import numpy as np
import pytest
import torch
import torch.nn.functional as F

from maxl import entropy_regulariser, focal_loss


def numpy_focal(logits: np.ndarray, target: np.ndarray, gamma: float) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return float(np.mean(-(target * (1 - p) ** gamma * np.log(p)).sum(axis=1)))


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 3.5])
def test_focal_loss_against_numpy(gamma):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4)) * 3
    target = rng.dirichlet(np.ones(4), size=5)
    got = focal_loss(torch.tensor(logits), torch.tensor(target), gamma).item()
    assert got == pytest.approx(numpy_focal(logits, target, gamma), rel=1e-10)


def test_class_indices_mean_one_hot_targets():
    logits = torch.randn(6, 3, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0, 2])
    onehot = F.one_hot(y, 3).double()
    assert focal_loss(logits, y).item() == pytest.approx(focal_loss(logits, onehot).item())


def test_gamma_zero_is_cross_entropy():
    logits = torch.randn(8, 5)
    y = torch.randint(0, 5, (8,))
    assert focal_loss(logits, y, gamma=0).item() == pytest.approx(
        F.cross_entropy(logits, y).item(), rel=1e-6
    )


def test_focal_loss_is_finite_for_huge_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = focal_loss(logits, torch.tensor([1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert loss.item() == pytest.approx(2e4, rel=1e-6)


def test_entropy_regulariser_by_hand():
    probs = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    mean = np.array([0.75, 0.25])
    assert entropy_regulariser(probs).item() == pytest.approx(float((mean * np.log(mean)).sum()))


def test_entropy_gradient_is_finite_when_a_class_is_never_generated():
    probs = torch.tensor([[0.3, 0.7, 0.0], [0.6, 0.4, 0.0]], requires_grad=True)
    entropy_regulariser(probs).backward()
    assert torch.isfinite(probs.grad).all()
    mean = np.array([0.45, 0.55])
    expected = (np.log(mean) + 1) / 2  # d/dp of Σ m log m with m = mean over 2 rows
    assert np.allclose(probs.grad[:, :2].numpy(), np.tile(expected, (2, 1)), atol=1e-6)
    assert torch.all(probs.grad[:, 2] == 0)
