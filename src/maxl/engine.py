"""The training loop: per batch a multi-task step, then the method's own step (MAXL: generator);
per epoch the learning-rate schedules, a test-set evaluation and a metrics record."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from maxl.config import TrainConfig
from maxl.data.batches import batch_indices, channel_stats, to_float
from maxl.data.dataset import ImageDataset, load_dataset
from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy
from maxl.hypergrad import HYPERGRADIENT_METHODS
from maxl.losses import focal_loss
from maxl.methods import AuxiliaryLabels, build_method
from maxl.models import MultiTaskNet, build_backbone
from maxl.records import append_jsonl, prepare_out_dir, write_json_atomic
from maxl.step import precision_context, prepare_batch, train_step
from maxl.task import Task, choose_psi, resolve_task

Log = Callable[[str], None]


@dataclass
class Run:
    """A run's live objects: the networks, their optimisation and the data on the device."""

    config: TrainConfig
    task: Task
    hierarchy: Hierarchy
    net: MultiTaskNet
    method: AuxiliaryLabels
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    rng: torch.Generator
    crop_pad: int  # 0: no random crop
    flip: bool  # random horizontal flips


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


def build_run(config: TrainConfig) -> Run:
    """Load the data, build both networks with the seed, and move everything to the device."""
    check_config(config)
    device = resolve_device(config.device)
    precision_context(device, config.precision)  # an unsupported precision fails before loading
    return assemble_run(config, load_dataset(config.dataset, config.data_dir), device)


def check_config(config: TrainConfig) -> None:
    """Reject settings that no run can use, before anything is loaded."""
    for name in ("epochs", "eval_every", "batch_size", "lr_step", "meta_every"):
        if getattr(config, name) < 1:
            raise MaxlError(f"--{name.replace('_', '-')} must be at least 1")
    if config.hypergrad not in HYPERGRADIENT_METHODS:
        raise MaxlError(
            f"unknown --hypergrad {config.hypergrad!r}; choose one of "
            + ", ".join(HYPERGRADIENT_METHODS)
        )


def assemble_run(config: TrainConfig, dataset: ImageDataset, device: torch.device) -> Run:
    """Build both networks with the seed and move the dataset's training task to the device."""
    task = resolve_task(
        dataset, config.primary_level, config.train_size, config.seed, aux_level=config.aux_level
    )
    hierarchy = choose_psi(task, config.method, config.psi)
    channels = dataset.x_train.shape[1]

    def backbone_factory() -> tuple[torch.nn.Module, int]:
        backbone = build_backbone(config.backbone, channels)
        return backbone, backbone.feature_dim

    torch.manual_seed(config.seed)
    backbone, feature_dim = backbone_factory()
    net = MultiTaskNet(backbone, feature_dim, task.num_primary, hierarchy.num_aux).to(device)
    method = build_method(config, task, hierarchy, backbone_factory, device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        generator = getattr(method, "generator", None)
        if isinstance(generator, torch.nn.Module):
            generator.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=config.lr_step, gamma=config.lr_gamma
    )
    x_train = task.x_train.to(device)
    mean, std = channel_stats(x_train)
    image_size = min(x_train.shape[-2:])
    crop_pad = config.crop_pad if config.crop_pad is not None else max(1, round(image_size / 8))
    return Run(
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
        flip=config.augment and dataset.flip,
    )


def train_epoch(run: Run, epoch: int) -> dict[str, float]:
    """One pass over the training set; returns the mean losses."""
    config, net = run.config, run.net
    net.train()
    n = len(run.x_train)
    batches = batch_indices(
        n, config.batch_size, shuffle=True, generator=run.rng, drop_last=n % config.batch_size == 1
    )
    totals = torch.zeros(3, dtype=torch.float64, device=run.x_train.device)
    bar = tqdm(
        batches, desc=f"epoch {epoch}", leave=False, disable=None if config.progress else True
    )
    precision = precision_context(run.x_train.device, config.precision)
    for step, rows in enumerate(bar, start=1):
        x = prepare_batch(
            run.x_train[rows], run.mean, run.std, pad=run.crop_pad, flip=run.flip, rng=run.rng
        )
        losses = train_step(
            net,
            run.optimizer,
            run.method,
            x,
            run.y_train[rows],
            rows,
            aux_weight=config.aux_weight,
            focal_gamma=config.focal_gamma,
            precision=precision,
            where=f"epoch {epoch}, step {step}",
        )
        totals += losses.double()
        if step % 10 == 0:
            bar.set_postfix(loss=f"{totals[0].item() / step:.3f}")
    mean = (totals / len(batches)).tolist()
    return {"train_loss": mean[0], "train_primary_loss": mean[1], "train_aux_loss": mean[2]}


@torch.no_grad()
def evaluate(run: Run) -> dict[str, float]:
    """Primary-task accuracy and loss on the test split, BatchNorm in eval mode."""
    run.net.eval()
    correct, loss = 0, 0.0
    for rows in batch_indices(len(run.x_test), run.config.batch_size, shuffle=False):
        rows = rows.to(run.x_test.device)
        logits, _ = run.net(to_float(run.x_test[rows], run.mean, run.std))
        y = run.y_test[rows]
        correct += int((logits.argmax(dim=1) == y).sum())
        loss += focal_loss(logits, y, run.config.focal_gamma).item() * len(rows)
    return {"test_accuracy": correct / len(run.x_test), "test_loss": loss / len(run.x_test)}


def train(config: TrainConfig, log: Log | None = None) -> dict[str, Any]:
    """Train one method on one dataset; write metrics.jsonl and results.json; return the results."""
    started = time.perf_counter()
    out = prepare_out_dir(config.out or default_out_dir(config))
    run = build_run(config)
    metrics_path = out / "metrics.jsonl"
    metrics_path.write_text("")
    say = log or (lambda _: None)
    say(
        f"{config.method} on {config.dataset} (level {run.task.primary_level}, "
        f"ψ={run.hierarchy.psi}): "
        f"{len(run.x_train)} training images, {config.epochs} epoch(s), {config.backbone}"
    )
    record: dict[str, Any] = {}
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        lr = run.optimizer.param_groups[0]["lr"]
        record = {"epoch": epoch, "lr": lr, **train_epoch(run, epoch)}
        run.scheduler.step()
        run.method.end_epoch()
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            record.update(evaluate(run))
        record["epoch_time_s"] = time.perf_counter() - epoch_start
        append_jsonl(metrics_path, record)
        accuracy = record.get("test_accuracy")
        tested = "" if accuracy is None else f"  test accuracy {100 * accuracy:.2f}%"
        say(
            f"epoch {epoch:>3}/{config.epochs}  loss {record['train_loss']:.4f}{tested}  "
            f"({record['epoch_time_s']:.1f} s)"
        )
    results = {
        "method": config.method,
        "dataset": config.dataset,
        "seed": config.seed,
        "epochs": config.epochs,
        "test_accuracy": record["test_accuracy"],
        "final_train_loss": record["train_loss"],
        "wall_time_s": time.perf_counter() - started,
        "primary_level": run.task.primary_level,
        "psi": run.hierarchy.psi,
        "num_train": len(run.x_train),
        "num_test": len(run.x_test),
        "device": str(run.x_train.device),
        "torch_version": torch.__version__,
        "config": config.to_json(),
    }
    write_json_atomic(out / "results.json", results)
    say(f"results in {out / 'results.json'}")
    return results
