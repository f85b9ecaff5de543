"""`--tensorboard`: every per-epoch metric of metrics.jsonl as a TensorBoard scalar, in
OUT/tensorboard/ (tensorboard is an optional extra: pip install maxl[tensorboard])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maxl.errors import MaxlError


def require_tensorboard() -> Any:
    """torch's SummaryWriter class, or a MaxlError that says how to install tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MaxlError(
            "--tensorboard needs the tensorboard package; install it with "
            "pip install 'maxl[tensorboard]' (or pip install tensorboard)"
        ) from None
    return SummaryWriter


class TensorBoardLog:
    """A SummaryWriter over OUT/tensorboard; list-valued metrics (aux_usage) become one
    scalar per entry, 'aux_usage/0', 'aux_usage/1', ..."""

    def __init__(self, out: Path) -> None:
        self.writer = require_tensorboard()(log_dir=str(out / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        """One epoch's record, each number at step = its epoch."""
        epoch = int(record["epoch"])
        for key, value in record.items():
            if key == "epoch":
                continue
            if isinstance(value, list):
                for index, item in enumerate(value):
                    self.writer.add_scalar(f"{key}/{index}", float(item), epoch)
            elif isinstance(value, (int, float)):
                self.writer.add_scalar(key, float(value), epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
