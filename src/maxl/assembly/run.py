"""A run from a TrainConfig (from the command line, a config file or `maxl.fit`'s keywords):
checked once, its dataset, backbone, method and callbacks built, and the engine trains the
result (`train`: build, then the engine's loop)."""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from maxl.assembly.backbones import BACKBONE_NAMES, build_backbone
from maxl.assembly.datasets import load_dataset
from maxl.assembly.methods import BackboneFactory, build_method, meta_settings
from maxl.assembly.optimisers import learning_rate_schedule, network_optimizer
from maxl.callbacks import Analysis, Callback, LabelTable, TensorBoard
from maxl.checkpoint import USER_BACKBONE, load_checkpoint
from maxl.config import (
    GEN_OPTIMIZERS,
    LR_SCHEDULES,
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    parse_meta_data,
)
from maxl.data.batches import channel_stats
from maxl.data.dataset import ImageDataset
from maxl.data.streamed import StreamedInputs, streamed_channel_stats
from maxl.distributed import (
    Ranks,
    data_parallel,
    launched_world_size,
    local_device,
    process_group,
)
from maxl.engine import AssembledRun, TrainingLoop
from maxl.errors import MaxlError
from maxl.global_batch_norm import to_global_batch_norm
from maxl.hierarchy import Hierarchy
from maxl.interrupt import StepBoundaryInterrupts
from maxl.models import MultiTaskNet
from maxl.models.blocks import block_count, split_at_depth
from maxl.run_folder import checkpoint_path, prepare_out_dir
from maxl.step import precision_context
from maxl.task import choose_psi, resolve_task, split_rows
from maxl.types import Log


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when available, else CPU; anything else must be a device torch knows."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        raise MaxlError(f"device {name!r} is not usable here ({error}); try --device cpu") from None
    return device


def default_out_dir(config: TrainConfig) -> Path:
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(config.dataset.removeprefix("npz:")).stem)
    return Path("runs") / f"{dataset}-{config.method}-seed{config.seed}"


def build_run(
    config: TrainConfig,
    ranks: Ranks | None = None,
    *,
    dataset: ImageDataset | None = None,
    backbone: BackboneFactory | None = None,
) -> AssembledRun:
    """Check the config (check_config), then load the data (unless given), build both networks
    with the seed (backbones from `backbone` when given, else config.backbone), and move
    everything to the device; in a data-parallel run (`ranks`) also shard it (see
    `parallelise`)."""
    check_config(config)
    return build_checked_run(config, ranks, dataset=dataset, backbone=backbone)


def build_checked_run(
    config: TrainConfig,
    ranks: Ranks | None = None,
    *,
    dataset: ImageDataset | None = None,
    backbone: BackboneFactory | None = None,
) -> AssembledRun:
    """build_run for a config that check_config has passed: `train` checks it before it
    touches the output folder, so that each run is checked once."""
    device = local_device(resolve_device(config.device))
    precision_context(device, config.precision)  # an unsupported precision fails before loading
    if dataset is None:
        dataset = load_dataset(config.dataset, config.data_dir, image_size=config.image_size)
    run = assemble_run(config, dataset, device, backbone)
    if ranks is not None:
        parallelise(run, ranks)
    return run


def check_config(config: TrainConfig) -> None:
    """Reject settings that no run can use, before anything is loaded."""
    for name in ("epochs", "eval_every", "batch_size", "lr_step", "meta_every"):
        if getattr(config, name) < 1:
            raise MaxlError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("train_size", "image_size", "kmeans_epochs", "kmeans_code_dim"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise MaxlError(f"--{name.replace('_', '-')} {value} must be at least 1")
    for name in ("seed", "crop_pad"):
        value = getattr(config, name)
        if value is not None and value < 0:
            raise MaxlError(f"--{name.replace('_', '-')} {value} must be 0 or more")
    if config.psi is not None:
        Hierarchy(config.psi)  # ψ's own checks (positive whole numbers), before any loading
    if config.analysis_size < 0:
        raise MaxlError("--analysis-size must be 0 (no analysis) or a number of images")
    meta_settings(config)  # the meta objective's own checks (weights, J, depth, method)
    if config.gen_backbone is not None and config.gen_backbone not in BACKBONE_NAMES:
        raise MaxlError(
            f"unknown --gen-backbone {config.gen_backbone!r}; choose one of "
            + ", ".join(BACKBONE_NAMES)
        )
    if config.early_stop is not None and config.early_stop < 1:
        raise MaxlError(f"--early-stop {config.early_stop} must be a number of epochs, 1 or more")
    if not 0 <= config.val_fraction < 1:
        raise MaxlError(
            f"--val-fraction {config.val_fraction} is not a fraction in [0, 1); give e.g. 0.1"
        )
    check_ranges(config)
    for name, value, allowed in (
        ("schedule", config.schedule, SCHEDULES),
        ("gen-optimizer", config.gen_optimizer, GEN_OPTIMIZERS),
        ("optimizer", config.optimizer, OPTIMIZERS),
        ("lr-schedule", config.lr_schedule, LR_SCHEDULES),
    ):
        if value not in allowed:
            raise MaxlError(f"unknown --{name} {value!r}; choose one of {', '.join(allowed)}")
    try:
        parse_meta_data(config.meta_data)
    except ValueError:
        raise MaxlError(
            f"--meta-data {config.meta_data!r} is not same, next or holdout:F with F a "
            "fraction strictly between 0 and 1 (e.g. holdout:0.1)"
        ) from None
    world_size = launched_world_size()
    if config.batch_size % world_size:
        raise MaxlError(
            f"--batch-size {config.batch_size} does not split evenly over {world_size} "
            f"processes; give a multiple of {world_size} (it is the global batch size)"
        )


def check_ranges(config: TrainConfig) -> None:
    """Learning rates, momenta and weight decays within the range they mean (the loss weights
    are the meta settings', checked by MetaSettings)."""
    for name in ("lr", "gen_lr"):
        value = getattr(config, name)
        if not (value > 0 and math.isfinite(value)):
            raise MaxlError(f"--{name.replace('_', '-')} {value} must be a number above 0")
    for name in ("momentum", "gen_momentum"):
        value = getattr(config, name)
        if not 0 <= value < 1:
            raise MaxlError(f"--{name.replace('_', '-')} {value} must be in [0, 1), e.g. 0.9")
    for name in ("weight_decay", "gen_weight_decay"):
        value = getattr(config, name)
        if not (value >= 0 and math.isfinite(value)):
            raise MaxlError(f"--{name.replace('_', '-')} {value} must be a number of 0 or more")
    if not 0 < config.lr_gamma <= 1:
        raise MaxlError(f"--lr-gamma {config.lr_gamma} must be in (0, 1], e.g. 0.5")


def parallelise(run: AssembledRun, ranks: Ranks) -> None:
    """Make `run` one rank of a data-parallel run: with --sync-bn both networks normalise over
    the global batch, and the multi-task step goes through DDP (the unwrapped net stays
    run.net, for the meta passes, evaluation and checkpoints)."""
    if run.config.sync_bn:
        to_global_batch_norm(run.net)
        generator = getattr(run.method, "generator", None)
        if isinstance(generator, nn.Module):
            to_global_batch_norm(generator)
    run.ranks = ranks
    run.trainer = data_parallel(  # single: the auxiliary head never gets a gradient
        run.net, run.x_train.device, find_unused=run.config.method == "single"
    )


def assemble_run(
    config: TrainConfig,
    dataset: ImageDataset,
    device: torch.device,
    backbone: BackboneFactory | None = None,
) -> AssembledRun:
    """Build both networks with the seed and move the dataset's training task to the device.
    `backbone` makes each network's trunk (default: config.backbone by name)."""
    task = resolve_task(
        dataset,
        config.primary_level,
        config.train_size,
        config.seed,
        aux_level=config.aux_level,
        val_fraction=config.val_fraction,
    )
    if config.early_stop is not None and task.x_val is None:
        raise MaxlError(
            "--early-stop needs a validation split to watch; give --val-fraction (e.g. 0.1), "
            "or x_val/y_val in your .npz, PATH/val/ in an image tree (val= in maxl.fit)"
        )
    hierarchy = choose_psi(task, config.method, config.psi)
    backbone_factory = backbone or named_backbone(backbone_name(config, dataset), dataset)
    trunk_name = backbone_name(config, dataset)
    generator_backbone = backbone_factory
    if config.gen_backbone is not None:
        generator_backbone = named_backbone(generator_backbone_name(config, dataset), dataset)

    torch.manual_seed(config.seed)
    backbone_module, feature_dim = backbone_factory()
    if backbone is not None:
        trunk_name = USER_BACKBONE + type(backbone_module).__name__
    net = MultiTaskNet(backbone_module, feature_dim, task.num_primary, hierarchy.num_aux)
    net = net.to(device)
    method = build_method(config, task, hierarchy, backbone_factory, device, generator_backbone)
    if method.meta_learned:
        split_at_depth(net, config.meta_depth)  # a depth beyond the blocks fails before training
    if device.type == "cuda":
        # torch's stubs omit memory_format, which Module.to takes
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        generator = getattr(method, "generator", None)
        if isinstance(generator, torch.nn.Module):
            generator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = network_optimizer(config, net.parameters())
    scheduler = learning_rate_schedule(config, optimizer)
    x_train = task.x_train.to(device)
    if isinstance(x_train, StreamedInputs):
        mean, std = streamed_channel_stats(x_train)
    else:
        mean, std = channel_stats(x_train)
    image_size = min(x_train.shape[-2:]) if not dataset.is_features else 0
    crop_pad = config.crop_pad if config.crop_pad is not None else max(1, round(image_size / 8))
    if dataset.is_features:
        crop_pad = 0
    train_rows, holdout_rows = None, None
    kind, fraction = parse_meta_data(config.meta_data)
    if method.meta_learned and kind == "holdout":
        assert fraction is not None
        kept, held = split_rows(len(x_train), fraction, config.seed, "--meta-data holdout")
        train_rows, holdout_rows = kept.to(device), held.to(device)
    unseen = sorted(set(task.y_test.unique().tolist()) - set(task.y_train.unique().tolist()))
    if unseen:
        warnings.warn(
            f"test classes {unseen} never occur in the training split; the network cannot "
            "learn them (check the labels, or draw a larger --train-size)",
            stacklevel=2,
        )
    x_val, y_val = task.x_val, task.y_val
    return AssembledRun(
        config=config,
        task=task,
        hierarchy=hierarchy,
        net=net,
        method=method,
        optimizer=optimizer,
        scheduler=scheduler,
        x_train=x_train,
        y_train=task.y_train.to(device),
        x_test=dataset.x_test.to(device),
        y_test=task.y_test.to(device),
        mean=mean,
        std=std,
        rng=torch.Generator(device=device).manual_seed(config.seed),
        crop_pad=crop_pad if config.augment else 0,
        flip=config.augment and dataset.flip and not dataset.is_features,
        x_val=None if x_val is None else x_val.to(device),
        y_val=None if y_val is None else y_val.to(device),
        train_rows=train_rows,
        holdout_rows=holdout_rows,
        meta_kind=kind,
        backbone_name=trunk_name,
    )


def backbone_name(config: TrainConfig, dataset: ImageDataset) -> str:
    """config.backbone, except that feature vectors take the mlp (no convolution fits them)."""
    return "mlp" if dataset.is_features else config.backbone


def generator_backbone_name(config: TrainConfig, dataset: ImageDataset) -> str:
    """config.gen_backbone (default: the network's), the mlp for feature vectors."""
    return "mlp" if dataset.is_features else config.gen_backbone or backbone_name(config, dataset)


def named_backbone(name: str, dataset: ImageDataset) -> BackboneFactory:
    """A factory of fresh `name` trunks for the dataset's inputs (the mlp: C·H·W features)."""
    inputs = dataset.x_train[0].numel() if name == "mlp" else dataset.x_train.shape[1]

    def build() -> tuple[nn.Module, int]:
        trunk = build_backbone(name, inputs)
        return trunk, trunk.feature_dim

    return build


def depth_note(run: AssembledRun) -> str:
    """How deep MAXL's meta-gradient goes, for the start message ('' when all of it; a
    backbone without blocks gets the meta step's warning instead)."""
    config = run.config
    if config.meta_depth is None or not run.method.meta_learned:
        return ""
    count = block_count(run.net.backbone)
    if count is None:
        return ""
    return f", meta-gradient through the top {config.meta_depth} of {count} blocks"


def train(
    config: TrainConfig,
    log: Log | None = None,
    *,
    dataset: ImageDataset | None = None,
    backbone: BackboneFactory | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train one method on one dataset; write metrics.jsonl, a checkpoint per epoch and
    results.json; return the results. With config.resume, continue from the checkpoint.
    `dataset` and `backbone` replace loading config.dataset and building config.backbone;
    `callbacks` run after the built-in ones (analysis, label table, TensorBoard)."""
    started = time.perf_counter()
    check_config(config)  # the run's one check, before the output folder is touched
    out = config.out or default_out_dir(config)
    with (
        process_group(local_device(resolve_device(config.device))) as ranks,
        StepBoundaryInterrupts() as interrupts,
    ):
        main = ranks is None or ranks.main
        if main:
            prepare_out_dir(out)
        path = checkpoint_path(out)
        saved = load_checkpoint(path, config) if config.resume else None
        run = build_checked_run(config, ranks, dataset=dataset, backbone=backbone)
        say = log if log is not None and main else lambda _: None
        loop = TrainingLoop(run, out, started, say, [*run_callbacks(config, out), *callbacks])
        if saved is not None:
            loop.resume_from(saved)
        say(
            f"{config.method} on {config.dataset} (level {run.task.primary_level}, "
            f"ψ={run.hierarchy.psi}): "
            f"{len(run.x_train)} training "
            + ("rows" if run.task.dataset.is_features else "images")
            + f", {config.epochs} epoch(s), "
            + ("your backbone" if backbone else backbone_name(config, run.task.dataset))
            + (
                f", generator {generator_backbone_name(config, run.task.dataset)}"
                if config.gen_backbone
                else ""
            )
            + depth_note(run)
            + (f", {ranks.world_size} processes" if ranks is not None else "")
        )
        if loop.progress is not None:
            say(f"resumed from {path} in epoch {loop.epoch + 1} {loop.progress.describe()}")
        elif saved is not None:
            say(f"resumed from {path} after epoch {loop.epoch}")
        return loop.train(interrupts)


def run_callbacks(config: TrainConfig, out: Path) -> list[Callback]:
    """The callbacks a configuration asks for: the analysis (--analysis-size), the label
    table, and TensorBoard (--tensorboard)."""
    callbacks: list[Callback] = [Analysis(config.analysis_size), LabelTable()]
    if config.tensorboard:
        callbacks.append(TensorBoard(out))
    return callbacks
