"""The training loop: per batch a multi-task step, then the method's own step (MAXL: generator);
with `--schedule epochs` (the paper's) the generator steps instead in a pass of their own after
each multi-task pass. Per epoch the learning-rate schedules, a test-set (and validation)
evaluation, the callbacks (the analysis, loggers), a metrics record and a checkpoint.

The engine works on built objects (an `AssembledRun`); names and configuration files become
objects in maxl.assembly, which calls it. What each pass draws is engine.sampling's; what a run
writes, engine.saving's.

Under torchrun (WORLD_SIZE > 1) every rank draws the same global batch and trains on its equal
shard (DDP for the multi-task step, reduced hypergradients, global BatchNorm with --sync-bn);
only rank 0 writes files and shows progress."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from maxl.callbacks import Callback
from maxl.checkpoint import restore_run
from maxl.data.batches import to_float
from maxl.data.streamed import Inputs, read_batches
from maxl.engine.assembled_run import AssembledRun
from maxl.engine.sampling import (
    EpochProgress,
    Pass,
    epoch_batches,
    meta_batch,
    pass_inputs,
    training_batch,
)
from maxl.engine.saving import RunSaver
from maxl.interrupt import Interrupted, StepBoundaryInterrupts
from maxl.losses import focal_loss
from maxl.step import NonFiniteLoss, precision_context, train_step
from maxl.types import Log


class TrainingLoop:
    """The epochs of one run: train, schedule, evaluate, call back, save (through a `RunSaver`),
    until the last epoch or early stopping; every rank runs it, rank 0 alone writes."""

    def __init__(
        self,
        run: AssembledRun,
        out: Path,
        started: float,
        say: Log,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.run = run
        self.callbacks = list(callbacks)
        self.saver = RunSaver(run, out, started, self.callbacks)
        self.say = say
        self.epoch = 0  # epochs finished
        self.progress: EpochProgress | None = None  # of an epoch stopped half-way
        self.records: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None  # epoch and val_accuracy of the best epoch

    def resume_from(self, saved: dict[str, Any]) -> None:
        run = self.run
        restore_run(run, saved, self.saver.path)
        self.epoch = int(saved["epoch"])
        self.records = list(saved["metrics"])
        for callback, state in zip(self.callbacks, saved.get("callbacks", []), strict=False):
            callback.load_state_dict(state)
        if saved["progress"] is not None:
            self.progress = EpochProgress.from_state_dict(saved["progress"], run.y_train.device)
        self.best = saved.get("best")
        self.saver.resumed(saved)

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
                    f"continue with --resume (checkpoint {self.saver.path})"
                ) from None
            except NonFiniteLoss as error:
                saved = self.saver.checkpointed
                kept = f"; {self.saver.path} keeps the last good state" if saved else ""
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
            if self.saver.writes:
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

    def save(self, is_best: bool = False) -> None:
        """Checkpoint where the run stands (with `is_best`, as best.pt too)."""
        self.saver.save(self.epoch, self.progress, self.records, self.best, is_best)

    def finish(self) -> dict[str, Any]:
        """The run's results; rank 0 calls on_fit_end, then writes them to results.json."""
        results = self.saver.results(self.records, self.epoch, self.best_results())
        if self.saver.writes:
            for callback in self.callbacks:
                callback.on_fit_end(self.run, self.saver.out)
            self.say(f"results in {self.saver.write_results(results)}")
        return results

    def best_results(self) -> dict[str, Any]:
        """The best validation epoch, its validation accuracy and its test accuracy (tested
        now with its weights where that epoch was not tested; chosen without the test set)."""
        if self.best is None:
            return {}
        epoch = int(self.best["epoch"])
        tested = self.records[epoch - 1].get("test_accuracy")
        if tested is None:
            run = self.run
            current = {k: v.clone() for k, v in run.net.state_dict().items()}
            run.net.load_state_dict(self.saver.best_weights())
            tested = evaluate(run)["test_accuracy"]
            run.net.load_state_dict(current)
        return {
            "best_epoch": epoch,
            "best_val_accuracy": self.best["val_accuracy"],
            "best_test_accuracy": tested,
        }


def train_epoch(
    run: AssembledRun,
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


def multi_task_pass(
    run: AssembledRun, epoch: int, progress: Pass, interrupts: StepBoundaryInterrupts | None
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
    run: AssembledRun, epoch: int, progress: Pass, interrupts: StepBoundaryInterrupts | None
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


def progress_bar(run: AssembledRun, progress: Pass, desc: str) -> tqdm:
    main = run.ranks is None or run.ranks.main
    return tqdm(
        total=len(progress.batches),
        initial=progress.done,
        desc=desc,
        leave=False,
        disable=None if run.config.progress and main else True,
    )


def check_interrupt(
    run: AssembledRun, interrupts: StepBoundaryInterrupts | None, bar: tqdm
) -> None:
    """Raise Interrupted at this step boundary if Ctrl-C was pressed (on any rank)."""
    if interrupts is not None and interrupts.requested(run.ranks, run.y_train.device):
        bar.close()
        raise Interrupted


def evaluate(run: AssembledRun) -> dict[str, float]:
    """Primary-task accuracy and loss on the test split (see `accuracy_and_loss`)."""
    accuracy, loss = accuracy_and_loss(run, run.x_test, run.y_test)
    return {"test_accuracy": accuracy, "test_loss": loss}


def validate(run: AssembledRun) -> dict[str, float]:
    """The same on the validation images held out by --val-fraction (empty without them)."""
    if run.x_val is None or run.y_val is None:
        return {}
    accuracy, loss = accuracy_and_loss(run, run.x_val, run.y_val)
    return {"val_accuracy": accuracy, "val_loss": loss}


@torch.no_grad()
def accuracy_and_loss(
    run: AssembledRun, images: Inputs, labels: torch.Tensor
) -> tuple[float, float]:
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
