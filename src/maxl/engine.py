"""The training loop: per batch a multi-task step, then the method's own step (MAXL: generator);
with `--schedule epochs` (the paper's) the generator steps instead in a pass of their own after
each multi-task pass. Per epoch the learning-rate schedules, a test-set (and validation)
evaluation, the analysis of the auxiliary labels and gradients (maxl.analysis), a metrics
record and a checkpoint.

Under torchrun (WORLD_SIZE > 1) every rank draws the same global batch and trains on its equal
shard (DDP for the multi-task step, reduced hypergradients, global BatchNorm with --sync-bn);
only rank 0 writes files and shows progress."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from maxl.analysis.label_table import LABEL_TABLE_NAME, write_label_table
from maxl.analysis.probe import analysis_rows, measure
from maxl.checkpoint import (
    checkpoint_path,
    fingerprint,
    load_checkpoint,
    restore_run,
    run_state,
    save_checkpoint,
)
from maxl.config import GEN_OPTIMIZERS, SCHEDULES, TrainConfig, parse_meta_data
from maxl.data.batches import batch_indices, channel_stats, to_float
from maxl.data.dataset import ImageDataset, load_dataset
from maxl.distributed import (
    Ranks,
    data_parallel,
    launched_world_size,
    local_device,
    process_group,
)
from maxl.errors import MaxlError
from maxl.global_batch_norm import to_global_batch_norm
from maxl.hierarchy import Hierarchy
from maxl.hypergrad import HYPERGRADIENT_METHODS
from maxl.interrupt import Interrupted, StepBoundaryInterrupts
from maxl.losses import focal_loss
from maxl.methods import AuxiliaryLabels, build_method
from maxl.models import MultiTaskNet, build_backbone
from maxl.records import prepare_out_dir, write_json_atomic, write_jsonl_atomic
from maxl.step import NonFiniteLoss, precision_context, prepare_batch, train_step
from maxl.task import Task, choose_psi, resolve_task, split_rows
from maxl.tensorboard_log import TensorBoardLog

Log = Callable[[str], None]
BackboneFactory = Callable[[], tuple[nn.Module, int]]  # a fresh backbone and its feature size


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
    ranks: Ranks | None = None  # data-parallel: this process's place among the ranks
    trainer: nn.Module | None = None  # what the multi-task step calls (DDP wrapper), else net
    x_val: torch.Tensor | None = None  # --val-fraction: held-out training images
    y_val: torch.Tensor | None = None
    train_rows: torch.Tensor | None = None  # rows of the multi-task steps (None: all)
    holdout_rows: torch.Tensor | None = None  # --meta-data holdout:F: rows of L_meta only


@dataclass
class Pass:
    """How far one pass of an epoch has come: its global batches of training rows in order, how
    many are done, and the sums of their [total, primary, auxiliary] losses."""

    batches: list[torch.Tensor]
    done: int
    totals: torch.Tensor

    def to_state(self) -> dict[str, Any]:
        return {"batches": self.batches, "done": self.done, "totals": self.totals}

    @classmethod
    def begin(cls, batches: list[torch.Tensor]) -> Pass:
        return cls(batches, 0, torch.zeros(3, dtype=torch.float64))

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> Pass:
        return cls(
            batches=[rows.to(device) for rows in state["batches"]],
            done=int(state["done"]),
            totals=state["totals"].to(device),
        )


@dataclass
class EpochProgress:
    """How far an epoch has come: its multi-task pass and, for a method with a separate pass
    (`--schedule epochs`), the generator pass, begun once the multi-task pass is done."""

    train: Pass
    meta: Pass | None = None

    def describe(self) -> str:
        """Where the epoch stands, for messages: 'after step 12' or '... of the generator pass'."""
        if self.meta is None:
            return f"after step {self.train.done}"
        return f"after step {self.meta.done} of the generator pass"

    def to_state(self) -> dict[str, Any]:
        return {
            "train": self.train.to_state(),
            "meta": None if self.meta is None else self.meta.to_state(),
        }

    @classmethod
    def begin(cls, run: Run) -> EpochProgress:
        """A new epoch: fresh shuffled batches, nothing done yet."""
        return cls(Pass.begin(epoch_batches(run)))

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> EpochProgress:
        meta = state.get("meta")
        return cls(
            train=Pass.from_state(state["train"], device),
            meta=None if meta is None else Pass.from_state(meta, device),
        )


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
) -> Run:
    """Load the data (unless given), build both networks with the seed (backbones from
    `backbone` when given, else config.backbone), and move everything to the device; in a
    data-parallel run (`ranks`) also shard it (see `parallelise`)."""
    check_config(config)
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
    if config.analysis_size < 0:
        raise MaxlError("--analysis-size must be 0 (no analysis) or a number of images")
    if config.neumann_terms < 0:
        raise MaxlError("--neumann-terms must be 0 or more Hessian-vector products")
    if not 0 <= config.val_fraction < 1:
        raise MaxlError(
            f"--val-fraction {config.val_fraction} is not a fraction in [0, 1); give e.g. 0.1"
        )
    for name, value, allowed in (
        ("schedule", config.schedule, SCHEDULES),
        ("gen-optimizer", config.gen_optimizer, GEN_OPTIMIZERS),
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
    if config.hypergrad not in HYPERGRADIENT_METHODS:
        raise MaxlError(
            f"unknown --hypergrad {config.hypergrad!r}; choose one of "
            + ", ".join(HYPERGRADIENT_METHODS)
        )
    world_size = launched_world_size()
    if config.batch_size % world_size:
        raise MaxlError(
            f"--batch-size {config.batch_size} does not split evenly over {world_size} "
            f"processes; give a multiple of {world_size} (it is the global batch size)"
        )


def parallelise(run: Run, ranks: Ranks) -> None:
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
) -> Run:
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
    hierarchy = choose_psi(task, config.method, config.psi)
    name = backbone_name(config, dataset)
    inputs = dataset.x_train[0].numel() if name == "mlp" else dataset.x_train.shape[1]

    def named_backbone() -> tuple[torch.nn.Module, int]:
        trunk = build_backbone(name, inputs)
        return trunk, trunk.feature_dim

    backbone_factory = backbone or named_backbone

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
    x_val, y_val = task.x_val, task.y_val
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
        flip=config.augment and dataset.flip and not dataset.is_features,
        x_val=None if x_val is None else x_val.to(device),
        y_val=None if y_val is None else y_val.to(device),
        train_rows=train_rows,
        holdout_rows=holdout_rows,
    )


def backbone_name(config: TrainConfig, dataset: ImageDataset) -> str:
    """config.backbone, except that feature vectors take the mlp (no convolution fits them)."""
    return "mlp" if dataset.is_features else config.backbone


def epoch_batches(run: Run) -> list[torch.Tensor]:
    """A new pass's global batches of training rows (without the meta hold-out), shuffled by
    the run's generator. In a data-parallel run each is cut to a multiple of the world size
    (the last, short batch may lose up to world_size - 1 rows) and dropped below two rows per
    rank."""
    n, size = len(run.x_train), run.config.batch_size
    if run.train_rows is not None:
        n = len(run.train_rows)
    batches = batch_indices(n, size, shuffle=True, generator=run.rng, drop_last=n % size == 1)
    if run.train_rows is not None:
        batches = [run.train_rows[rows] for rows in batches]
    return fit_to_ranks(run, batches)


def fit_to_ranks(run: Run, batches: list[torch.Tensor]) -> list[torch.Tensor]:
    """Batches cut to a multiple of the world size, none below two rows per rank."""
    if run.ranks is None:
        return batches
    world = run.ranks.world_size
    cut = [rows[: len(rows) - len(rows) % world] for rows in batches]
    return [rows for rows in cut if len(rows) >= 2 * world]


def meta_rows(run: Run, batches: list[torch.Tensor], index: int, key: int) -> torch.Tensor | None:
    """The training rows of L_meta for step `index` of a pass (--meta-data): None for the
    step's own batch (same), the pass's next batch (next, cyclic), or a batch of the hold-out
    (holdout:F), cycled through an order drawn from (seed, key) alone, so a resumed run draws
    the same."""
    kind, _ = parse_meta_data(run.config.meta_data)
    if not run.method.meta_learned or kind == "same":
        return None
    if kind == "next":
        return batches[(index + 1) % len(batches)]
    assert run.holdout_rows is not None
    held = len(run.holdout_rows)
    size = min(run.config.batch_size, held)
    order = torch.randperm(held, generator=torch.Generator().manual_seed(seed_for(run, key)))
    positions = (index * size + torch.arange(size)) % held
    rows = run.holdout_rows[order[positions].to(run.holdout_rows.device)]
    return fit_to_ranks(run, [rows])[0]


def seed_for(run: Run, key: int) -> int:
    """A seed of its own for each (run seed, key), e.g. the meta batches of one pass."""
    return (run.config.seed * 1_000_003 + key * 7_919) % (2**63)


def training_batch(
    run: Run, rows: torch.Tensor, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented inputs, labels and rows of a global batch, cut to this rank's shard."""
    x = prepare_batch(
        run.x_train[rows], run.mean, run.std, pad=run.crop_pad, flip=run.flip, rng=rng
    )
    y = run.y_train[rows]
    if run.ranks is not None:  # the same global batch on every rank; train on this share
        shard = run.ranks.shard(len(rows))
        x, y, rows = x[shard], y[shard], rows[shard]
    return x, y, rows


def meta_batch(
    run: Run, batches: list[torch.Tensor], index: int, key: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The batch (x', y') of L_meta for step `index` (None: the step's own), augmented with a
    generator of its own, so the run's random stream is that of --meta-data same."""
    rows = meta_rows(run, batches, index, key)
    if rows is None:
        return None
    rng = torch.Generator(device=run.x_train.device).manual_seed(seed_for(run, key) + index + 1)
    x, y, _ = training_batch(run, rows, rng)
    return x, y


def train_epoch(
    run: Run,
    epoch: int,
    progress: EpochProgress | None = None,
    interrupts: StepBoundaryInterrupts | None = None,
) -> dict[str, float]:
    """One pass over the training set (or the rest of it, from `progress`), then the method's
    separate pass if it has one; returns the multi-task pass's mean losses. Raises Interrupted
    at a step boundary after Ctrl-C, with `progress` up to date."""
    if progress is None:
        progress = EpochProgress.begin(run)
    run.net.train()
    train = progress.train
    train.totals = train.totals.to(run.x_train.device)
    if train.done < len(train.batches):
        multi_task_pass(run, epoch, train, interrupts)
    if run.method.separate_pass:
        if progress.meta is None:
            progress.meta = Pass.begin(epoch_batches(run)[:: run.config.meta_every])
        generator_pass(run, epoch, progress.meta, interrupts)
    mean = (train.totals / len(train.batches)).tolist()
    return {"train_loss": mean[0], "train_primary_loss": mean[1], "train_aux_loss": mean[2]}


def progress_bar(run: Run, progress: Pass, desc: str) -> tqdm:
    main = run.ranks is None or run.ranks.main
    return tqdm(
        total=len(progress.batches),
        initial=progress.done,
        desc=desc,
        leave=False,
        disable=None if run.config.progress and main else True,
    )


def check_interrupt(run: Run, interrupts: StepBoundaryInterrupts | None, bar: tqdm) -> None:
    """Raise Interrupted at this step boundary if Ctrl-C was pressed (on any rank)."""
    if interrupts is not None and interrupts.requested(run.ranks, run.x_train.device):
        bar.close()
        raise Interrupted


def multi_task_pass(
    run: Run, epoch: int, progress: Pass, interrupts: StepBoundaryInterrupts | None
) -> None:
    """Multi-task steps over the pass's batches, from progress.done on."""
    config = run.config
    bar = progress_bar(run, progress, f"epoch {epoch}")
    precision = precision_context(run.x_train.device, config.precision)
    for index in range(progress.done, len(progress.batches)):
        x, y, rows = training_batch(run, progress.batches[index], run.rng)
        losses = train_step(
            run.trainer or run.net,
            run.optimizer,
            run.method,
            x,
            y,
            rows,
            aux_weight=config.aux_weight,
            focal_gamma=config.focal_gamma,
            precision=precision,
            where=f"epoch {epoch}, step {index + 1}",
            ranks=run.ranks,
            meta=None
            if run.method.separate_pass  # its meta batches belong to the generator pass
            else meta_batch(run, progress.batches, index, key=2 * epoch),
        )
        progress.totals += losses.double()
        progress.done = index + 1
        bar.update()
        if progress.done % 10 == 0:
            bar.set_postfix(loss=f"{progress.totals[0].item() / progress.done:.3f}")
        check_interrupt(run, interrupts, bar)
    bar.close()


def generator_pass(
    run: Run, epoch: int, progress: Pass, interrupts: StepBoundaryInterrupts | None
) -> None:
    """The paper's generator pass: one meta step per batch, each at the network's current θ
    (the multi-task network does not change during the pass)."""
    bar = progress_bar(run, progress, f"epoch {epoch} (generator)")
    precision = precision_context(run.x_train.device, run.config.precision)
    lr = run.optimizer.param_groups[0]["lr"]
    for index in range(progress.done, len(progress.batches)):
        x, y, _ = training_batch(run, progress.batches[index], run.rng)
        meta = meta_batch(run, progress.batches, index, key=2 * epoch + 1)
        with precision:
            run.method.meta_step(run.net, x, y, lr, meta)
        progress.done = index + 1
        bar.update()
        check_interrupt(run, interrupts, bar)
    bar.close()


def evaluate(run: Run) -> dict[str, float]:
    """Primary-task accuracy and loss on the test split (see `accuracy_and_loss`)."""
    accuracy, loss = accuracy_and_loss(run, run.x_test, run.y_test)
    return {"test_accuracy": accuracy, "test_loss": loss}


def validate(run: Run) -> dict[str, float]:
    """The same on the validation images held out by --val-fraction (empty without them)."""
    if run.x_val is None or run.y_val is None:
        return {}
    accuracy, loss = accuracy_and_loss(run, run.x_val, run.y_val)
    return {"val_accuracy": accuracy, "val_loss": loss}


@torch.no_grad()
def accuracy_and_loss(run: Run, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Primary-task accuracy and mean focal loss on uint8 `images`, BatchNorm in eval mode; in
    a data-parallel run each rank scores a slice with rank 0's running statistics."""
    run.net.eval()
    rows = torch.arange(len(images), device=images.device)
    if run.ranks is not None:
        run.ranks.broadcast_buffers(run.net)
        rows = rows.tensor_split(run.ranks.world_size)[run.ranks.rank]
    correct, loss = 0, 0.0
    for batch in rows.split(run.config.batch_size):
        logits, _ = run.net(to_float(images[batch], run.mean, run.std))
        y = labels[batch]
        correct += int((logits.argmax(dim=1) == y).sum())
        loss += focal_loss(logits, y, run.config.focal_gamma).item() * len(batch)
    if run.ranks is not None:
        sums = run.ranks.sum(torch.tensor([correct, loss], dtype=torch.float64, device=rows.device))
        correct, loss = int(sums[0].item()), sums[1].item()
    return correct / len(images), loss / len(images)


def train(
    config: TrainConfig,
    log: Log | None = None,
    *,
    dataset: ImageDataset | None = None,
    backbone: BackboneFactory | None = None,
) -> dict[str, Any]:
    """Train one method on one dataset; write metrics.jsonl, a checkpoint per epoch and
    results.json; return the results. With config.resume, continue from the checkpoint.
    `dataset` and `backbone` replace loading config.dataset and building config.backbone."""
    started = time.perf_counter()
    check_config(config)
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
        run = build_run(config, ranks, dataset=dataset, backbone=backbone)
        say = log if log is not None and main else lambda _: None
        loop = TrainingLoop(run, out, started, say)
        if saved is not None:
            loop.resume_from(saved)
        say(
            f"{config.method} on {config.dataset} (level {run.task.primary_level}, "
            f"ψ={run.hierarchy.psi}): "
            f"{len(run.x_train)} training images, {config.epochs} epoch(s), "
            + ("your backbone" if backbone else backbone_name(config, run.task.dataset))
            + (f", {ranks.world_size} processes" if ranks is not None else "")
        )
        if loop.progress is not None:
            say(f"resumed from {path} in epoch {loop.epoch + 1} {loop.progress.describe()}")
        elif saved is not None:
            say(f"resumed from {path} after epoch {loop.epoch}")
        return loop.train(interrupts)


class TrainingLoop:
    """The epochs of one run and what they have written so far (rank 0 of a data-parallel run
    writes; the others keep the same state in step).

    Nothing in OUT changes before the first checkpoint, so a run that fails early leaves an
    earlier run's files alone; then metrics.jsonl and checkpoint.pt are written together, each
    atomically, after every epoch and on Ctrl-C.
    """

    def __init__(self, run: Run, out: Path, started: float, say: Log) -> None:
        self.run = run
        self.writes = run.ranks is None or run.ranks.main
        self.out = out
        self.started = started
        self.say = say
        self.epoch = 0  # epochs finished
        self.progress: EpochProgress | None = None  # of an epoch stopped half-way
        self.records: list[dict[str, Any]] = []
        self.earlier_time_s = 0.0  # wall time of the runs this one resumes
        self.checkpointed = False  # does OUT hold a checkpoint of this run?
        self.board = TensorBoardLog(out) if run.config.tensorboard and self.writes else None
        size = min(run.config.analysis_size, len(run.x_train))
        self.analysis_rows = analysis_rows(len(run.x_train), size, run.config.seed).to(
            run.x_train.device
        )

    @property
    def path(self) -> Path:
        return checkpoint_path(self.out)

    def resume_from(self, saved: dict[str, Any]) -> None:
        run = self.run
        restore_run(run, saved, self.path)
        self.epoch = int(saved["epoch"])
        self.records = list(saved["metrics"])
        self.earlier_time_s = float(saved["wall_time_s"])
        if saved["progress"] is not None:
            self.progress = EpochProgress.from_state(saved["progress"], run.x_train.device)
        self.checkpointed = True
        if self.writes:  # the metrics of exactly the epochs the checkpoint holds
            write_jsonl_atomic(self.out / "metrics.jsonl", self.records)

    def save(self) -> None:
        """Write the metrics so far and the checkpoint. The first save of a fresh run first
        removes the results.json and label table of the run it replaces, so the folder never
        pairs them."""
        if self.writes:
            if not self.checkpointed:
                (self.out / "results.json").unlink(missing_ok=True)
                (self.out / LABEL_TABLE_NAME).unlink(missing_ok=True)
            write_jsonl_atomic(self.out / "metrics.jsonl", self.records)
            save_checkpoint(
                self.path,
                {
                    **run_state(self.run),
                    "config": fingerprint(self.run.config),
                    "epoch": self.epoch,
                    "progress": None if self.progress is None else self.progress.to_state(),
                    "metrics": self.records,
                    "wall_time_s": self.earlier_time_s + time.perf_counter() - self.started,
                },
            )
        self.checkpointed = True

    def train(self, interrupts: StepBoundaryInterrupts) -> dict[str, Any]:
        run, config = self.run, self.run.config
        while self.epoch < config.epochs:
            epoch = self.epoch + 1
            epoch_start = time.perf_counter()
            lr = run.optimizer.param_groups[0]["lr"]
            if self.progress is None:
                self.progress = EpochProgress.begin(run)
            try:
                losses = train_epoch(run, epoch, self.progress, interrupts)
            except Interrupted:
                self.save()
                raise Interrupted(
                    f"stopped in epoch {epoch} {self.progress.describe()}; "
                    f"continue with --resume (checkpoint {self.path})"
                ) from None
            except NonFiniteLoss as error:
                kept = f"; {self.path} keeps the last good state" if self.checkpointed else ""
                raise NonFiniteLoss(f"{error}{kept}") from error
            self.progress = None
            record = {"epoch": epoch, "lr": lr, **losses}
            run.scheduler.step()
            run.method.end_epoch()
            if epoch % config.eval_every == 0 or epoch == config.epochs:
                record.update(evaluate(run))
            record.update(validate(run))
            if len(self.analysis_rows):
                analysis_start = time.perf_counter()
                record.update(measure(run, self.analysis_rows))
                record["analysis_time_s"] = time.perf_counter() - analysis_start
            record["epoch_time_s"] = time.perf_counter() - epoch_start
            self.epoch = epoch
            self.records.append(record)
            self.save()
            if self.board is not None:
                self.board.write(record)
            accuracy = record.get("test_accuracy")
            tested = "" if accuracy is None else f"  test accuracy {100 * accuracy:.2f}%"
            self.say(
                f"epoch {epoch:>3}/{config.epochs}  loss {record['train_loss']:.4f}{tested}  "
                f"({record['epoch_time_s']:.1f} s)"
            )
        return self.finish()

    def finish(self) -> dict[str, Any]:
        run, config = self.run, self.run.config
        record = self.records[-1]
        results = {
            "method": config.method,
            "dataset": config.dataset,
            "seed": config.seed,
            "epochs": config.epochs,
            "test_accuracy": record["test_accuracy"],
            "final_train_loss": record["train_loss"],
            **({"val_accuracy": record["val_accuracy"]} if "val_accuracy" in record else {}),
            "wall_time_s": self.earlier_time_s + time.perf_counter() - self.started,
            "primary_level": run.task.primary_level,
            "psi": run.hierarchy.psi,
            "num_train": len(run.x_train),
            "num_val": 0 if run.x_val is None else len(run.x_val),
            "num_test": len(run.x_test),
            "device": str(run.x_train.device),
            "torch_version": torch.__version__,
            "config": config.to_json(),
        }
        if run.ranks is not None:
            results["world_size"] = run.ranks.world_size
        if self.board is not None:
            self.board.close()
        if self.writes:
            write_label_table(run, self.out)
            write_json_atomic(self.out / "results.json", results)
            self.say(f"results in {self.out / 'results.json'}")
        return results
