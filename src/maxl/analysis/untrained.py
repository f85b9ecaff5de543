"""The labels a run's generator gave before training: its untrained weights with BatchNorm
statistics of the training images, set against the labels the finished run saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from maxl.analysis.probe import label_distributions, most_likely_classes
from maxl.data.batches import to_float
from maxl.errors import MaxlError
from maxl.fit_state import FitState
from maxl.run_folder import read_aux_labels


@torch.no_grad()
def calibrate_batch_norm(generator: nn.Module, run: FitState, batches: int | None = None) -> None:
    """Set the generator's BatchNorm running statistics to the cumulative average over one pass
    of the training images (the first `batches` batches of it, if given), so its eval-mode
    labels are those its weights give."""
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    generator.train()
    for rows in torch.arange(len(run.x_train)).split(run.config.batch_size)[:batches]:
        generator(to_float(run.x_train[rows], run.mean, run.std), run.y_train[rows])


@torch.no_grad()
def start_classes(run: FitState, rows: torch.Tensor, batches: int = 50) -> torch.Tensor | None:
    """The most likely auxiliary class of `rows` under the generator as it is now, with
    BatchNorm statistics of (up to `batches` batches of) the training images: without them an
    untrained generator's eval-mode labels use mean 0 and variance 1, and the first epoch would
    count their settling as labels moving. The generator, its mode and the random state (CPU, and
    the run's GPU) are left exactly as they were. A method without a generator: its current
    classes."""
    generator = getattr(run.method, "generator", None)
    if not isinstance(generator, nn.Module):
        return most_likely_classes(run, rows)
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = {name: buffer.clone() for name, buffer in generator.named_buffers()}  # all it changes
    momenta, mode = [norm.momentum for norm in norms], generator.training
    try:
        with torch.random.fork_rng(devices=cuda_devices(run.y_train.device)):
            calibrate_batch_norm(generator, run, batches)
            return most_likely_classes(run, rows)
    finally:
        for name, buffer in generator.named_buffers():
            buffer.copy_(saved[name])
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        generator.train(mode)


def untrained_labels(run: FitState) -> torch.Tensor:
    """The label distributions [N, K] of every training image from a freshly built run's
    generator (calibrated in place first)."""
    calibrate_batch_norm(run.method.generator, run)  # type: ignore[attr-defined]
    labels = label_distributions(run, torch.arange(len(run.x_train)))
    if labels is None:
        raise MaxlError(f"method {run.config.method} has no label generator")
    return labels


def cuda_devices(device: torch.device) -> list[int]:
    """The GPU whose random state a forward on `device` may draw from (none on the CPU)."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def final_classes(folder: Path, train_rows: torch.Tensor) -> torch.Tensor:
    """The most likely auxiliary class of every training image at the end of the run in
    `folder`, checked to cover exactly `train_rows` (the rebuilt run's training rows)."""
    table = read_aux_labels(folder)
    if not np.array_equal(table.rows, train_rows.numpy()):
        raise MaxlError(f"{folder}: the label table holds other training rows than the config")
    return torch.from_numpy(table.aux)
