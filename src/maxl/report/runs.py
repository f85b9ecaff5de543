"""Helpers over a run's metric records for the reports (the files are read by maxl.run_folder)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

ANALYSIS_KEYS = (
    "grad_cosine",
    "aux_entropy",
    "aux_marginal_entropy",
    "nmi_human",
    "nmi_human_within",
)


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
