"""The training loop: per batch a multi-task step, then the method's own step (MAXL: generator);
with `--schedule epochs` (the paper's) the generator steps instead in a pass of their own after
each multi-task pass. Per epoch the learning-rate schedules, a test-set (and validation)
evaluation, the callbacks (the analysis, loggers), a metrics record and a checkpoint.

The engine works on built objects (a `Run`); names and configuration files become objects in
maxl.assembly, which calls it.

Under torchrun (WORLD_SIZE > 1) every rank draws the same global batch and trains on its equal
shard (DDP for the multi-task step, reduced hypergradients, global BatchNorm with --sync-bn);
only rank 0 writes files and shows progress."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from maxl.callbacks import Callback
from maxl.checkpoint import (
    BEST_NAME,
    best_path,
    checkpoint_path,
    fingerprint,
    input_spec,
    restore_run,
    run_state,
    save_checkpoint,
)
from maxl.config import TrainConfig
from maxl.data.batches import batch_indices, to_float
from maxl.data.streamed import Inputs, StreamedInputs, read_batches
from maxl.distributed import Ranks
from maxl.hierarchy import Hierarchy
from maxl.interrupt import Interrupted, StepBoundaryInterrupts
from maxl.losses import focal_loss
from maxl.methods.base import AuxiliaryLabels
from maxl.models.multitask import MultiTaskNet
from maxl.records import write_json_atomic, write_jsonl_atomic
from maxl.step import NonFiniteLoss, precision_context, prepare_batch, train_step
from maxl.task import Task
from maxl.types import Log


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
    x_train: Inputs  # in memory on the device, or streamed from a Dataset
    y_train: torch.Tensor
    x_test: Inputs
    y_test: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    rng: torch.Generator
    crop_pad: int  # 0: no random crop
    flip: bool  # random horizontal flips
    ranks: Ranks | None = None  # data-parallel: this process's place among the ranks
    trainer: nn.Module | None = None  # what the multi-task step calls (DDP wrapper), else net
    x_val: Inputs | None = None  # --val-fraction: held-out training images
    y_val: torch.Tensor | None = None
    train_rows: torch.Tensor | None = None  # rows of the multi-task steps (None: all)
    holdout_rows: torch.Tensor | None = None  # --meta-data holdout:F: rows of L_meta only
    meta_kind: str = "same"  # where L_meta's batches come from: same, next or holdout
    backbone_name: str = ""  # the trunk's name, or "user:CLASS" for the user's own


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
    if not run.method.meta_learned or run.meta_kind == "same":
        return None
    if run.meta_kind == "next":
        return batches[(index + 1) % len(batches)]
    assert run.holdout_rows is not None
    held = len(run.holdout_rows)
    size = min(run.config.batch_size, held)
    order = holdout_order(held, seed_for(run, key))
    positions = (index * size + torch.arange(size)) % held
    rows = run.holdout_rows[order[positions].to(run.holdout_rows.device)]
    return fit_to_ranks(run, [rows])[0]


@functools.lru_cache(maxsize=2)  # a pass asks for the same order at every step
def holdout_order(held: int, seed: int) -> torch.Tensor:
    """The order in which a pass cycles through the hold-out rows, from its seed alone."""
    return torch.randperm(held, generator=torch.Generator().manual_seed(seed))


def seed_for(run: Run, key: int) -> int:
    """A seed of its own for each (run seed, key), e.g. the meta batches of one pass."""
    return (run.config.seed * 1_000_003 + key * 7_919) % (2**63)


def shard_of(run: Run, size: int) -> slice:
    """This rank's share of a global batch of `size` (all of it in one process)."""
    return slice(None) if run.ranks is None else run.ranks.shard(size)


def pass_inputs(run: Run, batches: list[torch.Tensor], salt: int) -> Iterator[torch.Tensor]:
    """This rank's inputs of each global batch in order (a stream reads them ahead; `salt`
    seeds its random transforms for this pass)."""
    shares = [rows[shard_of(run, len(rows))] for rows in batches]
    return read_batches(run.x_train, shares, salt)


def training_batch(
    run: Run, rows: torch.Tensor, rng: torch.Generator, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented inputs, labels and rows of this rank's share of a global batch of `rows`,
    given its inputs `x`; the augmentation is drawn for the whole global batch, so every rank
    draws the same numbers and a share is augmented as in one process."""
    part = shard_of(run, len(rows))
    x = prepare_batch(
        x,
        run.mean,
        run.std,
        pad=run.crop_pad,
        flip=run.flip,
        rng=rng,
        batch_size=len(rows),
        part=part,
    )
    return x, run.y_train[rows[part]], rows[part]


def meta_batch(
    run: Run, batches: list[torch.Tensor], index: int, key: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The batch (x', y') of L_meta for step `index` (None: the step's own), augmented with a
    generator of its own, so the run's random stream is that of --meta-data same."""
    rows = meta_rows(run, batches, index, key)
    if rows is None:
        return None
    rng = torch.Generator(device=run.y_train.device).manual_seed(seed_for(run, key) + index + 1)
    x = next(pass_inputs(run, [rows], salt=-(key * 100_003 + index + 1)))
    x, y, _ = training_batch(run, rows, rng, x)
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
    train.totals = train.totals.to(run.y_train.device)
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
    if interrupts is not None and interrupts.requested(run.ranks, run.y_train.device):
        bar.close()
        raise Interrupted


def multi_task_pass(
    run: Run, epoch: int, progress: Pass, interrupts: StepBoundaryInterrupts | None
) -> None:
    """Multi-task steps over the pass's batches, from progress.done on."""
    config = run.config
    bar = progress_bar(run, progress, f"epoch {epoch}")
    precision = precision_context(run.y_train.device, config.precision)
    inputs = pass_inputs(run, progress.batches[progress.done :], salt=2 * epoch)
    for index, x_rows in zip(range(progress.done, len(progress.batches)), inputs, strict=True):
        x, y, rows = training_batch(run, progress.batches[index], run.rng, x_rows)
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
    precision = precision_context(run.y_train.device, run.config.precision)
    lr = run.optimizer.param_groups[0]["lr"]
    inputs = pass_inputs(run, progress.batches[progress.done :], salt=2 * epoch + 1)
    for index, x_rows in zip(range(progress.done, len(progress.batches)), inputs, strict=True):
        x, y, _ = training_batch(run, progress.batches[index], run.rng, x_rows)
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
def accuracy_and_loss(run: Run, images: Inputs, labels: torch.Tensor) -> tuple[float, float]:
    """Primary-task accuracy and mean focal loss on uint8 `images`, BatchNorm in eval mode; in
    a data-parallel run each rank scores a slice with rank 0's running statistics."""
    run.net.eval()
    rows = torch.arange(len(images), device=labels.device)
    if run.ranks is not None:
        run.ranks.broadcast_buffers(run.net)
        rows = rows.tensor_split(run.ranks.world_size)[run.ranks.rank]
    correct, loss = 0, 0.0
    batches = list(rows.split(run.config.batch_size))
    for batch, x in zip(batches, read_batches(images, batches, salt=0), strict=True):
        logits, _ = run.net(to_float(x, run.mean, run.std))
        y = labels[batch]
        correct += int((logits.argmax(dim=1) == y).sum())
        loss += focal_loss(logits, y, run.config.focal_gamma).item() * len(batch)
    if run.ranks is not None:
        sums = run.ranks.sum(torch.tensor([correct, loss], dtype=torch.float64, device=rows.device))
        correct, loss = int(sums[0].item()), sums[1].item()
    return correct / len(images), loss / len(images)


class TrainingLoop:
    """The epochs of one run and what they have written so far (rank 0 of a data-parallel run
    writes; the others keep the same state in step).

    Nothing in OUT changes before the first checkpoint, so a run that fails early leaves an
    earlier run's files alone; then metrics.jsonl and checkpoint.pt are written together, each
    atomically, after every epoch and on Ctrl-C.
    """

    def __init__(
        self,
        run: Run,
        out: Path,
        started: float,
        say: Log,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.run = run
        self.callbacks = list(callbacks)
        self.writes = run.ranks is None or run.ranks.main
        self.out = out
        self.started = started
        self.say = say
        self.epoch = 0  # epochs finished
        self.progress: EpochProgress | None = None  # of an epoch stopped half-way
        self.records: list[dict[str, Any]] = []
        self.earlier_time_s = 0.0  # wall time of the runs this one resumes
        self.checkpointed = False  # does OUT hold a checkpoint of this run?
        self.best: dict[str, Any] | None = None  # epoch and val_accuracy of the best epoch
        self.best_net: dict[str, torch.Tensor] | None = None  # its weights, once seen here

    @property
    def path(self) -> Path:
        return checkpoint_path(self.out)

    def outputs(self) -> list[str]:
        return [name for callback in self.callbacks for name in callback.outputs]

    def resume_from(self, saved: dict[str, Any]) -> None:
        run = self.run
        restore_run(run, saved, self.path)
        self.epoch = int(saved["epoch"])
        self.records = list(saved["metrics"])
        self.earlier_time_s = float(saved["wall_time_s"])
        for callback, state in zip(self.callbacks, saved.get("callbacks", []), strict=False):
            callback.load_state_dict(state)
        if saved["progress"] is not None:
            self.progress = EpochProgress.from_state(saved["progress"], run.y_train.device)
        self.best = saved.get("best")
        self.checkpointed = True
        if self.writes:  # the metrics of exactly the epochs the checkpoint holds
            write_jsonl_atomic(self.out / "metrics.jsonl", self.records)

    def improves(self, epoch: int, validation: dict[str, float]) -> bool:
        """Is this epoch's validation accuracy the best so far (the first of equals)? Keeps
        it as the best when so; False without a validation split."""
        accuracy = validation.get("val_accuracy")
        if accuracy is None or (self.best is not None and accuracy <= self.best["val_accuracy"]):
            return False
        self.best = {"epoch": epoch, "val_accuracy": accuracy}
        return True

    def stops_early(self, epoch: int) -> bool:
        """--early-stop N: N epochs have passed without a better validation accuracy."""
        patience = self.run.config.early_stop
        return (
            patience is not None
            and self.best is not None
            and (epoch - self.best["epoch"] >= patience)
        )

    def save(self, best: bool = False) -> None:
        """Write the metrics so far and the checkpoint (with `best`, first as best.pt too: a
        run killed between the two leaves a best.pt no older than the checkpoint's best). The
        first save of a fresh run first removes the results.json, best.pt and callback outputs
        (the label table) of the run it replaces, so the folder never pairs them."""
        if self.writes:
            if not self.checkpointed:
                for name in ("results.json", BEST_NAME, *self.outputs()):
                    (self.out / name).unlink(missing_ok=True)
            write_jsonl_atomic(self.out / "metrics.jsonl", self.records)
            state = {
                **run_state(self.run),
                "config": fingerprint(self.run.config),
                "inputs": input_spec(
                    self.run.x_train,
                    self.run.mean,
                    self.run.std,
                    self.run.task.num_primary,
                    self.run.hierarchy.num_aux,
                    self.run.backbone_name,
                    self.run.task.dataset.float_scale,
                ),
                "epoch": self.epoch,
                "progress": None if self.progress is None else self.progress.to_state(),
                "metrics": self.records,
                "callbacks": [callback.state_dict() for callback in self.callbacks],
                "best": self.best,
                "wall_time_s": self.earlier_time_s + time.perf_counter() - self.started,
            }
            if best:
                save_checkpoint(best_path(self.out), state)
            save_checkpoint(self.path, state)
        if best:  # every rank keeps the best weights, for best_test_accuracy at the end
            self.best_net = {k: v.detach().clone() for k, v in self.run.net.state_dict().items()}
        self.checkpointed = True

    def train(self, interrupts: StepBoundaryInterrupts) -> dict[str, Any]:
        run, config = self.run, self.run.config
        if self.epoch == 0 and self.progress is None:
            for callback in self.callbacks:
                callback.on_fit_start(run)
        while self.epoch < config.epochs and not self.stops_early(self.epoch):
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
            validation = validate(run)
            best = self.improves(epoch, validation)
            stop = self.stops_early(epoch)
            if epoch % config.eval_every == 0 or epoch == config.epochs or stop:
                record.update(evaluate(run))
            record.update(validation)
            for callback in self.callbacks:
                callback.on_epoch_end(run, record)
            record["epoch_time_s"] = time.perf_counter() - epoch_start
            self.epoch = epoch
            self.records.append(record)
            self.save(best)
            if self.writes:
                for callback in self.callbacks:
                    callback.on_epoch_saved(run, record)
            accuracy = record.get("test_accuracy")
            tested = "" if accuracy is None else f"  test accuracy {100 * accuracy:.2f}%"
            self.say(
                f"epoch {epoch:>3}/{config.epochs}  loss {record['train_loss']:.4f}{tested}  "
                f"({record['epoch_time_s']:.1f} s)"
            )
            if stop:
                assert self.best is not None
                self.say(
                    f"stopped early: no better validation accuracy for {config.early_stop} "
                    f"epoch(s) since epoch {self.best['epoch']}"
                )
                break
        return self.finish()

    def best_results(self) -> dict[str, Any]:
        """The best validation epoch, its validation accuracy and its test accuracy (tested
        now from best.pt where that epoch was not tested; chosen without the test set)."""
        if self.best is None:
            return {}
        epoch = int(self.best["epoch"])
        tested = self.records[epoch - 1].get("test_accuracy")
        if tested is None:
            run = self.run
            best_net = self.best_net
            if best_net is None:  # resumed after the best epoch: every rank reads best.pt
                best_net = torch.load(best_path(self.out), map_location="cpu", weights_only=True)[
                    "net"
                ]
            current = {k: v.clone() for k, v in run.net.state_dict().items()}
            run.net.load_state_dict(best_net)
            tested = evaluate(run)["test_accuracy"]
            run.net.load_state_dict(current)
        return {
            "best_epoch": epoch,
            "best_val_accuracy": self.best["val_accuracy"],
            "best_test_accuracy": tested,
        }

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
            "epochs_trained": self.epoch,
            "backbone": run.backbone_name,  # as run: "user:CLASS" for your own
            "augmentation": {"crop_pad": run.crop_pad, "flip": run.flip},  # as applied
            **self.best_results(),
            "primary_level": run.task.primary_level,
            "psi": run.hierarchy.psi,
            "num_train": len(run.x_train),
            "num_val": 0 if run.x_val is None else len(run.x_val),
            "num_test": len(run.x_test),
            "device": str(run.y_train.device),
            "streamed": isinstance(run.x_train, StreamedInputs),  # read from a Dataset per batch
            "torch_version": torch.__version__,
            "config": config.to_json(),
        }
        if run.ranks is not None:
            results["world_size"] = run.ranks.world_size
        if self.writes:
            for callback in self.callbacks:
                callback.on_fit_end(run, self.out)
            write_json_atomic(self.out / "results.json", results)
            self.say(f"results in {self.out / 'results.json'}")
        return results
