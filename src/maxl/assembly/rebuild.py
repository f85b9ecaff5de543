"""A finished run rebuilt from its folder: its settings, and its networks and data as its seed
built them before training (what the label analyses compare the end with)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from maxl.assembly.datasets import load_dataset
from maxl.assembly.run import assemble_run
from maxl.checkpoint import load_checkpoint, restore_run
from maxl.config import TrainConfig
from maxl.engine import AssembledRun
from maxl.errors import MaxlError
from maxl.run_folder import checkpoint_path, read_results, results_path


def saved_config(folder: Path) -> TrainConfig:
    """The settings of the finished run in `folder`, from its results."""
    results = read_results(folder)
    if results is None:
        raise MaxlError(f"{folder} holds no finished run (no {results_path(folder).name})")
    return TrainConfig.from_mapping(results["config"], results_path(folder))


def rebuilt_run(folder: Path) -> AssembledRun:
    """The finished run's networks and data as its seed built them (untrained), on the CPU."""
    config = dataclasses.replace(saved_config(folder), device="cpu")
    dataset = load_dataset(config.dataset, config.data_dir, image_size=config.image_size)
    return assemble_run(config, dataset, torch.device("cpu"))


def restore_last_epoch(run: AssembledRun, folder: Path) -> None:
    """Load the run's last checkpoint into a rebuilt run: its networks after the last epoch."""
    path = checkpoint_path(folder)
    restore_run(run, load_checkpoint(path, run.config), path)
