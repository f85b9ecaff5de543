"""Saving a run: what its checkpoint and results.json hold, and writing them with metrics.jsonl
and best.pt through maxl.run_folder, so that the loop only says when (after every epoch, on
Ctrl-C, at the end) and a resumed run finds exactly what it needs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from maxl.callbacks import Callback
from maxl.checkpoint import fingerprint, input_spec, run_state, save_checkpoint
from maxl.data.streamed import StreamedInputs
from maxl.engine.assembled_run import AssembledRun
from maxl.engine.sampling import EpochProgress
from maxl.run_folder import BEST, RESULTS, best_path, checkpoint_path, write_metrics, write_results


class RunSaver:
    """What one run has written to its folder so far (rank 0 of a data-parallel run writes; the
    others keep the same state in step).

    Nothing in OUT changes before the first checkpoint, so a run that fails early leaves an
    earlier run's files alone; then metrics.jsonl and checkpoint.pt are written together, each
    atomically, after every epoch and on Ctrl-C.
    """

    def __init__(
        self, run: AssembledRun, out: Path, started: float, callbacks: Sequence[Callback]
    ) -> None:
        self.run = run
        self.out = out
        self.callbacks = callbacks
        self.writes = run.ranks is None or run.ranks.main
        self.started = started
        self.earlier_time_s = 0.0  # wall time of the runs this one resumes
        self.checkpointed = False  # does OUT hold a checkpoint of this run?
        self.best_net: dict[str, torch.Tensor] | None = None  # best epoch's weights, once seen

    @property
    def path(self) -> Path:
        return checkpoint_path(self.out)

    def wall_time_s(self) -> float:
        """The run's wall time so far, the runs it resumes included."""
        return self.earlier_time_s + time.perf_counter() - self.started

    def resumed(self, saved: dict[str, Any]) -> None:
        """Continue from the checkpoint `saved`: its wall time, and the metrics of exactly the
        epochs it holds."""
        self.earlier_time_s = float(saved["wall_time_s"])
        self.checkpointed = True
        if self.writes:
            write_metrics(self.out, list(saved["metrics"]))

    def save(
        self,
        epoch: int,
        progress: EpochProgress | None,
        records: list[dict[str, Any]],
        best: dict[str, Any] | None,
        is_best: bool = False,
    ) -> None:
        """Write the metrics so far and the checkpoint (with `is_best`, first as best.pt too: a
        run killed between the two leaves a best.pt no older than the checkpoint's best). The
        first save of a fresh run first removes the results.json, best.pt and callback outputs
        (the label table) of the run it replaces, so the folder never pairs them."""
        run = self.run
        if self.writes:
            if not self.checkpointed:
                outputs = [name for callback in self.callbacks for name in callback.outputs]
                for name in (RESULTS, BEST, *outputs):
                    (self.out / name).unlink(missing_ok=True)
            write_metrics(self.out, records)
            state = {
                **run_state(run),
                "config": fingerprint(run.config),
                "inputs": input_spec(
                    run.x_train,
                    run.mean,
                    run.std,
                    run.task.num_primary,
                    run.hierarchy.num_aux,
                    run.backbone_name,
                    run.task.dataset.float_scale,
                ),
                "epoch": epoch,
                "progress": None if progress is None else progress.state_dict(),
                "metrics": records,
                "callbacks": [callback.state_dict() for callback in self.callbacks],
                "best": best,
                "wall_time_s": self.wall_time_s(),
            }
            if is_best:
                save_checkpoint(best_path(self.out), state)
            save_checkpoint(self.path, state)
        if is_best:  # every rank keeps the best weights, for best_test_accuracy at the end
            self.best_net = {k: v.detach().clone() for k, v in run.net.state_dict().items()}
        self.checkpointed = True

    def best_weights(self) -> dict[str, torch.Tensor]:
        """The best epoch's weights: kept since that epoch, or (resumed after it) from best.pt,
        which every rank reads."""
        if self.best_net is not None:
            return self.best_net
        return torch.load(best_path(self.out), map_location="cpu", weights_only=True)["net"]

    def results(
        self, records: list[dict[str, Any]], epochs_trained: int, best: dict[str, Any]
    ) -> dict[str, Any]:
        """results.json's contents: the last epoch's record, how the run went and what it ran
        on; `best` is the best validation epoch's (empty without a validation split)."""
        run, config = self.run, self.run.config
        record = records[-1]
        results = {
            "method": config.method,
            "dataset": config.dataset,
            "seed": config.seed,
            "epochs": config.epochs,
            "test_accuracy": record["test_accuracy"],
            "final_train_loss": record["train_loss"],
            **({"val_accuracy": record["val_accuracy"]} if "val_accuracy" in record else {}),
            "wall_time_s": self.wall_time_s(),
            "epochs_trained": epochs_trained,
            "backbone": run.backbone_name,  # as run: "user:CLASS" for your own
            "augmentation": {"crop_pad": run.crop_pad, "flip": run.flip},  # as applied
            **best,
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
        return results

    def write_results(self, results: dict[str, Any]) -> Path:
        """results.json, the run's last file (rank 0 only calls this)."""
        return write_results(self.out, results)
