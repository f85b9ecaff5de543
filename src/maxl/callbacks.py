"""Callbacks: what a run does beside training at each epoch's end (measure, log, write files).
The engine calls them in order; each sees the run as a read-only `FitState`. The analysis,
the label table and TensorBoard are callbacks; so is anything a user passes to `maxl.fit`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from maxl.analysis.label_table import write_label_table
from maxl.analysis.metrics import label_change
from maxl.analysis.probe import analysis_rows, measure, most_likely_classes
from maxl.analysis.untrained import start_classes
from maxl.fit_state import FitState
from maxl.run_folder import AUX_LABELS
from maxl.tensorboard_log import TensorBoardLog, require_tensorboard


class Callback:
    """No-op hooks to override. `on_epoch_end` runs on every rank of a data-parallel run; the
    others run only where files are written (rank 0). `state_dict` is saved in each checkpoint
    and handed back to `load_state_dict` on --resume."""

    outputs: tuple[str, ...] = ()  # files written in OUT; a fresh run removes an old run's

    def on_fit_start(self, state: FitState) -> None:
        """Before the first epoch of a fresh run (not on --resume), on every rank."""

    def on_epoch_end(self, state: FitState, record: dict[str, Any]) -> None:
        """After the epoch's evaluation, before its record is written: may add metrics."""

    def on_epoch_saved(self, state: FitState, record: dict[str, Any]) -> None:
        """After the epoch's record (metrics.jsonl) and checkpoint are on disk."""

    def on_fit_end(self, state: FitState, out: Path) -> None:
        """After the last epoch, before results.json is written."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""


class Analysis(Callback):
    """The per-epoch analysis (maxl.analysis.probe) on a fixed, seeded sample of `size`
    training images; adds its metrics and analysis_time_s to the record. For learned labels
    it also records how many of the sample's labels moved (`label_change` since the last
    epoch, `label_change_from_start` since the untrained generator, its BatchNorm statistics
    taken from the training images)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: torch.Tensor | None = None  # drawn at the first use, then kept
        self.first: torch.Tensor | None = None  # the untrained generator's classes of the rows
        self.last: torch.Tensor | None = None  # their classes after the last epoch

    def sample(self, state: FitState) -> torch.Tensor | None:
        size = min(self.size, len(state.x_train))
        if size == 0:
            return None
        if self.rows is None:
            rows = analysis_rows(len(state.x_train), size, state.config.seed)
            self.rows = rows.to(state.x_train.device)
        return self.rows

    def on_fit_start(self, state: FitState) -> None:
        rows = self.sample(state)
        if rows is not None and state.method.meta_learned:
            self.first = start_classes(state, rows)
            self.last = self.first

    def on_epoch_end(self, state: FitState, record: dict[str, Any]) -> None:
        rows = self.sample(state)
        if rows is None:
            return
        started = time.perf_counter()
        record.update(measure(state, rows))
        if self.last is not None and len(self.last) != len(rows):
            # resumed with another --analysis-size: no untrained baseline for this sample,
            # and the epoch-to-epoch change starts again from this epoch
            self.first, self.last = None, most_likely_classes(state, rows)
        elif self.last is not None:
            now = most_likely_classes(state, rows)
            assert now is not None, "a method that had labels last epoch has them now"
            record["label_change"] = label_change(self.last, now)
            if self.first is not None:
                record["label_change_from_start"] = label_change(self.first, now)
            self.last = now
        record["analysis_time_s"] = time.perf_counter() - started

    def state_dict(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.last}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.first, self.last = state.get("first"), state.get("last")


class LabelTable(Callback):
    """OUT/aux_labels.npz at the end: each training image's auxiliary class (for maxl show)."""

    outputs = (AUX_LABELS,)

    def on_fit_end(self, state: FitState, out: Path) -> None:
        write_label_table(state, out)


class TensorBoard(Callback):
    """Every record of metrics.jsonl as TensorBoard scalars under OUT/tensorboard/."""

    def __init__(self, out: Path) -> None:
        require_tensorboard()  # fail before training, not after the first epoch
        self.out = out
        self.board: TensorBoardLog | None = None  # opened at the first record: OUT untouched

    def on_epoch_saved(self, state: FitState, record: dict[str, Any]) -> None:
        if self.board is None:
            self.board = TensorBoardLog(self.out)
        self.board.write(record)

    def on_fit_end(self, state: FitState, out: Path) -> None:
        if self.board is not None:
            self.board.close()
