"""The run folder: the one module that knows its file names and formats. Every reader and writer
of results.json, metrics.jsonl, aux_labels.npz and the checkpoints goes through it; files are
written atomically (temporary file, then rename), so a killed run leaves whole files."""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from maxl.errors import MaxlError

RESULTS = "results.json"  # written once, when the run has finished
METRICS = "metrics.jsonl"  # one JSON record per finished epoch
AUX_LABELS = "aux_labels.npz"  # each sampled training image's most likely auxiliary class
CHECKPOINT = "checkpoint.pt"  # everything a resume needs, rewritten every epoch
BEST = "best.pt"  # the checkpoint of the epoch with the best validation accuracy
FORMAT_VERSION = 1  # results.json's "format"; raise it when a file's layout changes
AUX_LABEL_ARRAYS = ("rows", "primary", "aux", "confidence", "psi")
RUN_NAME = re.compile(r"^(?P<method>.+)-seed(?P<seed>-?\d+)$")  # how compare names its runs
SIZE_NAME = re.compile(r"^size-(?P<size>\d+)$")  # how `maxl map` names its sizes' folders


def prepare_out_dir(path: Path) -> Path:
    """Create the output folder, or say clearly why it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise MaxlError(
            f"cannot write to output folder {path} ({error.strerror or error}); "
            "choose another --out"
        ) from error
    return path


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Let `write` fill a temporary file in the same folder, sync it, then rename it into place:
    a reader (or a run killed at any moment) sees the old file or the new one, never a part."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from the group
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the system allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    write_atomic(path, lambda handle: handle.write((json.dumps(data, indent=2) + "\n").encode()))


def write_jsonl_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace a JSON-lines file by these records at once (a resumed run's metrics so far)."""
    text = "".join(json.dumps(record) + "\n" for record in records)
    write_atomic(path, lambda handle: handle.write(text.encode()))


def results_path(folder: Path) -> Path:
    return folder / RESULTS


def metrics_path(folder: Path) -> Path:
    return folder / METRICS


def aux_labels_path(folder: Path) -> Path:
    return folder / AUX_LABELS


def checkpoint_path(folder: Path) -> Path:
    return folder / CHECKPOINT


def best_path(folder: Path) -> Path:
    return folder / BEST


def write_results(folder: Path, results: dict[str, Any]) -> Path:
    """results.json, with the format version first; the run's last file, so its presence
    means the run finished."""
    path = results_path(folder)
    write_json_atomic(path, {"format": FORMAT_VERSION, **results})
    return path


def size_folders(out: Path) -> list[tuple[int, Path]]:
    """A map's OUT/size-N folders with their sizes, smallest first (none where OUT is missing)."""
    if not out.is_dir():
        return []
    found = [(int(m["size"]), f) for f in out.iterdir() if (m := SIZE_NAME.match(f.name))]
    return sorted((size, folder) for size, folder in found if folder.is_dir())


def finished_runs(folder: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """The finished runs of a comparison folder (OUT/METHOD-seedS): results by method, then
    seed (none where the folder is missing)."""
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for run in folder.iterdir() if folder.is_dir() else []:
        if (m := RUN_NAME.match(run.name)) and (results := read_results(run)) is not None:
            runs.setdefault(m["method"], {})[int(m["seed"])] = results
    return runs


def read_results(folder: Path) -> dict[str, Any] | None:
    """results.json as a dict, or None while the run has not finished."""
    path = results_path(folder)
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        results = None
    if not isinstance(results, dict):
        raise MaxlError(f"{path} is not a JSON object; delete it, or rerun the training")
    if results.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise MaxlError(
            f"{path} has format {results['format']}, newer than this maxl reads "
            f"({FORMAT_VERSION}); upgrade maxl"
        )
    return results


def write_metrics(folder: Path, records: list[dict[str, Any]]) -> None:
    """metrics.jsonl replaced by these records at once (a resumed run's metrics so far)."""
    write_jsonl_atomic(metrics_path(folder), records)


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """The records of metrics.jsonl, one per finished epoch; a bad line is a MaxlError."""
    path = metrics_path(folder)
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


@dataclass(frozen=True)
class AuxLabels:
    """Each sampled training image's most likely auxiliary class (aux_labels.npz)."""

    rows: np.ndarray  # int64 [M] indices into the dataset's x_train
    primary: np.ndarray  # int64 [M] primary label of each row
    aux: np.ndarray  # int64 [M] global auxiliary class, block layout of psi
    confidence: np.ndarray  # float [M] that class's probability
    psi: list[int]


def write_aux_labels(
    folder: Path,
    *,
    rows: np.ndarray,
    primary: np.ndarray,
    aux: np.ndarray,
    confidence: np.ndarray,
    psi: np.ndarray,
) -> Path:
    """aux_labels.npz from its five arrays (the fields of AuxLabels)."""
    path = aux_labels_path(folder)
    write_atomic(
        path,
        lambda handle: np.savez(
            handle, rows=rows, primary=primary, aux=aux, confidence=confidence, psi=psi
        ),
    )
    return path


def read_aux_labels(folder: Path) -> AuxLabels:
    """aux_labels.npz, checked for its five arrays of matching lengths."""
    path = aux_labels_path(folder)
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


@dataclass(frozen=True)
class SavedRun:
    """A run folder read back from disk: its metrics per epoch, and results.json once it finished.
    The others: `AssembledRun` is a run's live objects while it trains, `FitState` the read-only
    view of them that callbacks get, `FitResult` what maxl.fit returns."""

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
    def row(self) -> str:
        """The comparison row the run belongs to: METHOD of a METHOD-seedS folder (a variant's
        name, where it is one), else the method."""
        match = RUN_NAME.match(self.folder.name)
        return match["method"] if match else self.method

    @property
    def psi(self) -> list[int] | None:
        psi = (self.results or {}).get("psi")
        return [int(p) for p in psi] if isinstance(psi, list) and psi else None

    @property
    def final_accuracy(self) -> float | None:
        """results.json's test accuracy, else the last evaluated epoch's (a run in progress)."""
        if self.results and isinstance(self.results.get("test_accuracy"), (int, float)):
            return float(self.results["test_accuracy"])
        tested = [r["test_accuracy"] for r in self.metrics if r.get("test_accuracy") is not None]
        return float(tested[-1]) if tested else None


def read_run(folder: Path) -> SavedRun:
    return SavedRun(folder, read_metrics(folder), read_results(folder))


def is_run_folder(folder: Path) -> bool:
    """A folder a training wrote to (it holds metrics.jsonl)."""
    return metrics_path(folder).is_file()


def run_folders(folder: Path) -> list[Path]:
    """The sub-folders that hold a metrics.jsonl, by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_run_folder(p))
