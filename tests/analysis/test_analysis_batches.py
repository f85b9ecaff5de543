"""The training batches an analysis draws: in order, or from the run's seeded shuffle."""

from types import SimpleNamespace

import torch

from maxl.analysis.batches import first_batches, shuffled_batches


def tiny_run(seed: int = 3):
    x = torch.arange(10 * 4, dtype=torch.uint8).reshape(10, 1, 2, 2)
    return SimpleNamespace(
        x_train=x, y_train=torch.arange(10), mean=torch.tensor([0.1]), std=torch.tensor([0.5]),
        config=SimpleNamespace(batch_size=4, seed=seed),
    )  # fmt: skip


def test_first_batches_are_the_rows_in_order_normalised():
    run = tiny_run()
    batches = first_batches(run, 2)
    assert [y.tolist() for _, y in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    expected = (run.x_train[4:8].float() / 255 - 0.1) / 0.5
    torch.testing.assert_close(batches[1][0], expected)


def test_shuffled_batches_follow_the_seeded_permutation():
    run = tiny_run(seed=3)
    order = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    batches = shuffled_batches(run, 5, crop_pad=0, flip=False)
    assert [y.tolist() for _, y in batches] == [order[:4].tolist(), order[4:8].tolist(),
                                                order[8:].tolist()]  # fmt: skip
    expected = (run.x_train[order[:4]].float() / 255 - 0.1) / 0.5
    torch.testing.assert_close(batches[0][0], expected)
