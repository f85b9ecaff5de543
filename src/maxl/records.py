"""Run records on disk: metrics as JSON lines, results (and checkpoints) written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from maxl.errors import MaxlError


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
