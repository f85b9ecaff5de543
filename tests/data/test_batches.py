import numpy as np
import pytest
import torch

from maxl.data import batch_indices, channel_stats, to_float
from maxl.errors import MaxlError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_in_order_batches():
    batches = batch_indices(10, 4, shuffle=False)
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(b.dtype == torch.int64 for b in batches)
    assert [b.tolist() for b in batch_indices(10, 4, shuffle=False, drop_last=True)] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
    ]
    assert len(batch_indices(8, 4, shuffle=False, drop_last=True)) == 2
    assert batch_indices(0, 4, shuffle=False) == []


def test_shuffled_batches_are_a_repeatable_permutation():
    batches = batch_indices(103, 10, shuffle=True, generator=gen(3))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    flat = torch.cat(batches)
    assert sorted(flat.tolist()) == list(range(103))
    assert flat.tolist() != list(range(103))
    again = torch.cat(batch_indices(103, 10, shuffle=True, generator=gen(3)))
    other = torch.cat(batch_indices(103, 10, shuffle=True, generator=gen(4)))
    assert torch.equal(flat, again) and not torch.equal(flat, other)
    dropped = batch_indices(103, 10, shuffle=True, generator=gen(3), drop_last=True)
    assert torch.equal(torch.cat(dropped), flat[:100])


def test_bad_batch_size():
    with pytest.raises(MaxlError, match="batch size must be >= 1"):
        batch_indices(10, 0, shuffle=False)


def test_to_float_matches_numpy():
    x = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8, generator=gen())
    mean, std = torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.2, 0.3, 0.4])
    expected = (x.numpy() / 255.0 - mean.numpy()[:, None, None]) / std.numpy()[:, None, None]
    out = to_float(x, mean, std)
    assert out.dtype == torch.float32 and out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_to_float_checks_shapes():
    x = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(MaxlError, match=r"shape \[3\]"):
        to_float(x, torch.zeros(1), torch.ones(1))
    with pytest.raises(MaxlError, match="uint8"):
        to_float(x.double(), torch.zeros(3), torch.ones(3))


def test_float_images_are_standardised_with_their_own_channel_stats():
    x = torch.randn(6, 2, 3, 3, generator=gen()) * 4 + 1
    mean, std = channel_stats(x)
    flat = x.double().transpose(0, 1).reshape(2, -1)
    assert torch.allclose(mean.double(), flat.mean(1), atol=1e-6)
    assert torch.allclose(std.double(), flat.std(1, unbiased=False), atol=1e-6)
    expected = (x - mean.view(1, 2, 1, 1)) / std.view(1, 2, 1, 1)
    assert torch.equal(to_float(x, mean, std), expected)


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_channel_stats_match_numpy(chunk_size):
    x = torch.randint(0, 256, (50, 3, 5, 6), dtype=torch.uint8, generator=gen())
    x[:, 1] //= 4  # a different distribution per channel
    mean, std = channel_stats(x, chunk_size=chunk_size)
    values = x.numpy().astype(np.float64) / 255.0
    np.testing.assert_allclose(mean.numpy(), values.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), values.std(axis=(0, 2, 3)), rtol=1e-5)
    assert mean.dtype == std.dtype == torch.float32 and mean.shape == (3,)


def test_normalised_data_has_zero_mean_unit_std():
    x = torch.randint(0, 256, (40, 2, 8, 8), dtype=torch.uint8, generator=gen(1))
    out = to_float(x, *channel_stats(x))
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 2, 3), correction=0), torch.ones(2), atol=1e-4)


def test_constant_channel_does_not_divide_by_zero():
    x = torch.full((4, 1, 3, 3), 9, dtype=torch.uint8)
    mean, std = channel_stats(x)
    assert torch.isclose(mean, torch.tensor([9 / 255])).all() and (std > 0).all()
    assert torch.equal(to_float(x, mean, std), torch.zeros(4, 1, 3, 3))
