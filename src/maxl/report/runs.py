"""Reading what `maxl train` and `maxl compare` wrote: metrics, results and auxiliary labels."""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maxl.errors import MaxlError

ANALYSIS_KEYS = (
    "grad_cosine",
    "aux_entropy",
    "aux_marginal_entropy",
    "nmi_human",
    "nmi_human_within",
)
AUX_LABEL_ARRAYS = ("rows", "primary", "aux", "confidence", "psi")
RUN_NAME = re.compile(r"^(?P<method>.+)-seed(?P<seed>-?\d+)$")


@dataclass(frozen=True)
class AuxLabels:
    """Each sampled training image's most likely auxiliary class (aux_labels.npz)."""

    rows: np.ndarray  # int64 [M] indices into the dataset's x_train
    primary: np.ndarray  # int64 [M] primary label of each row
    aux: np.ndarray  # int64 [M] global auxiliary class, block layout of psi
    confidence: np.ndarray  # float [M] that class's probability
    psi: list[int]


@dataclass(frozen=True)
class RunRecord:
    """One run folder: its metrics per epoch, and results.json once it finished."""

    folder: Path
    metrics: list[dict[str, Any]]
    results: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.results is not None

    @property
    def method(self) -> str:
        """The method from results.json, else from a METHOD-seedS folder name."""
        if self.results and isinstance(self.results.get("method"), str):
            return self.results["method"]
        match = RUN_NAME.match(self.folder.name)
        return match["method"] if match else self.folder.name

    @property
    def psi(self) -> list[int] | None:
        psi = (self.results or {}).get("psi")
        return [int(p) for p in psi] if isinstance(psi, list) and psi else None

    @property
    def final_accuracy(self) -> float | None:
        """results.json's test accuracy, else the last evaluated epoch's (a run in progress)."""
        if self.results and isinstance(self.results.get("test_accuracy"), (int, float)):
            return float(self.results["test_accuracy"])
        last = last_value(self.metrics, "test_accuracy")
        return None if last is None else float(last)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of metrics.jsonl, one per finished epoch; a bad line is a MaxlError."""
    try:
        text = path.read_text()
    except OSError as error:
        raise MaxlError(f"cannot read {path} ({error.strerror or error}); check the path") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
            raise MaxlError(
                f"{path}, line {number}: not a JSON object with an integer 'epoch'; "
                "fix or delete that line (each line is one epoch written by maxl train)"
            )
        records.append(record)
    return records


def read_results(folder: Path) -> dict[str, Any] | None:
    """results.json as a dict, or None while the run has not finished."""
    path = folder / "results.json"
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        results = None
    if not isinstance(results, dict):
        raise MaxlError(f"{path} is not a JSON object; delete it, or rerun the training")
    return results


def read_run(folder: Path) -> RunRecord:
    return RunRecord(folder, read_metrics(folder / "metrics.jsonl"), read_results(folder))


def read_aux_labels(path: Path) -> AuxLabels:
    """aux_labels.npz, checked for its five arrays of matching lengths."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name]) for name in AUX_LABEL_ARRAYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise MaxlError(
            f"{path} is unreadable or lacks one of {', '.join(AUX_LABEL_ARRAYS)} ({error}); "
            "rerun the training to write it again"
        ) from None
    length = len(arrays["rows"])
    if any(arrays[name].shape != (length,) for name in ("primary", "aux", "confidence")):
        raise MaxlError(f"{path}: rows, primary, aux and confidence differ in length; rerun")
    return AuxLabels(
        rows=arrays["rows"].astype(np.int64),
        primary=arrays["primary"].astype(np.int64),
        aux=arrays["aux"].astype(np.int64),
        confidence=arrays["confidence"].astype(np.float64),
        psi=[int(p) for p in arrays["psi"].reshape(-1)],
    )


def run_folders(folder: Path) -> list[Path]:
    """The sub-folders that hold a metrics.jsonl, by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "metrics.jsonl").is_file())


def number(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric or non-finite values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of the records where `key` holds a finite number."""
    pairs = [(r["epoch"], number(r.get(key))) for r in records]
    kept = [(e, v) for e, v in pairs if v is not None]
    return [e for e, _ in kept], [v for _, v in kept]


def last_value(records: list[dict[str, Any]], key: str) -> Any:
    """The value of `key` in the last record that has it (None if none has)."""
    for record in reversed(records):
        if record.get(key) is not None:
            return record[key]
    return None
