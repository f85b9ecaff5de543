"""Training batches of a run for an analysis that needs the inputs training sees."""

from __future__ import annotations

import torch

from maxl.data.batches import to_float
from maxl.fit_state import FitState
from maxl.step import prepare_batch
from maxl.types import Batch


def first_batches(run: FitState, count: int) -> list[Batch]:
    """The first `count` batches of the training images in order, normalised, not augmented."""
    rows = torch.arange(len(run.x_train)).split(run.config.batch_size)[:count]
    return [(to_float(run.x_train[r], run.mean, run.std), run.y_train[r]) for r in rows]


def shuffled_batches(run: FitState, count: int, *, crop_pad: int, flip: bool) -> list[Batch]:
    """The first `count` batches of a shuffle seeded by the run's seed, augmented as training
    augments (random crop with `crop_pad`, `flip`) from the same seeded generator."""
    rng = torch.Generator().manual_seed(run.config.seed)
    order = torch.randperm(len(run.x_train), generator=rng)
    return [
        (
            prepare_batch(run.x_train[r], run.mean, run.std, pad=crop_pad, flip=flip, rng=rng),
            run.y_train[r],
        )
        for r in order.split(run.config.batch_size)[:count]
    ]
