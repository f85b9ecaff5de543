"""The labels a run's generator gave before training: its untrained weights with BatchNorm
statistics of the training images, set against the labels the finished run saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from maxl.analysis.probe import label_distributions
from maxl.data.batches import to_float
from maxl.errors import MaxlError
from maxl.fit_state import FitState
from maxl.run_folder import read_aux_labels


@torch.no_grad()
def calibrate_batch_norm(generator: nn.Module, run: FitState) -> None:
    """Set the generator's BatchNorm running statistics to the cumulative average over one pass
    of the training images, so its eval-mode labels are those its weights give."""
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    generator.train()
    for rows in torch.arange(len(run.x_train)).split(run.config.batch_size):
        generator(to_float(run.x_train[rows], run.mean, run.std), run.y_train[rows])


def untrained_labels(run: FitState) -> torch.Tensor:
    """The label distributions [N, K] of every training image from a freshly built run's
    generator (calibrated in place first)."""
    calibrate_batch_norm(run.method.generator, run)  # type: ignore[attr-defined]
    labels = label_distributions(run, torch.arange(len(run.x_train)))
    if labels is None:
        raise MaxlError(f"method {run.config.method} has no label generator")
    return labels


def final_classes(folder: Path, train_rows: torch.Tensor) -> torch.Tensor:
    """The most likely auxiliary class of every training image at the end of the run in
    `folder`, checked to cover exactly `train_rows` (the rebuilt run's training rows)."""
    table = read_aux_labels(folder)
    if not np.array_equal(table.rows, train_rows.numpy()):
        raise MaxlError(f"{folder}: the label table holds other training rows than the config")
    return torch.from_numpy(table.aux)
