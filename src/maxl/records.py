"""Run records on disk: metrics as JSON lines, results written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON object as a line (flushed, so a killed run keeps every finished epoch)."""
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
