"""Do two runs from the same untrained generator learn the same labels? Shares of images that
moved, and that moved alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from maxl.errors import MaxlError
from maxl.run_folder import AuxLabels


@dataclass(frozen=True)
class LabelAgreement:
    """Shares (0..1): images the reference moved from their initial class, images the other run
    moved, images with the same final class in both, and that share among those the reference
    moved (NaN when it moved none)."""

    moved: float
    other_moved: float
    same_final: float
    same_where_moved: float


def label_agreement(
    initial: torch.Tensor, final: torch.Tensor, other_final: torch.Tensor
) -> LabelAgreement:
    """Agreement of two runs' final classes [N] that started from the same classes [N]."""
    if not len(initial) == len(final) == len(other_final):
        raise MaxlError(f"{len(initial)}, {len(final)} and {len(other_final)} labels differ")
    moved = final != initial
    same = final == other_final
    return LabelAgreement(
        moved=float(moved.double().mean()),
        other_moved=float((other_final != initial).double().mean()),
        same_final=float(same.double().mean()),
        same_where_moved=float(same[moved].double().mean()) if moved.any() else float("nan"),
    )


def same_final_class(mine: AuxLabels, other: AuxLabels) -> float:
    """Share of images with the same most likely class in two runs' label tables; NaN when
    the tables cover other rows or another ψ (their classes do not compare)."""
    if not (np.array_equal(mine.psi, other.psi) and np.array_equal(mine.rows, other.rows)):
        return float("nan")
    return float((mine.aux == other.aux).mean())
