"""Which training images show each auxiliary class in the image grids (pure, no drawing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from maxl.run_folder import AuxLabels


@dataclass(frozen=True)
class AuxRow:
    """One grid row: an auxiliary class of a primary class's block and the images it got."""

    aux_class: int  # global index 0..K-1
    rows: list[int]  # dataset rows shown, most confident first (at most per_row)
    count: int  # images of the primary class whose most likely class this is
    share: float  # count / images of the primary class (0 when it has none)


def pick_classes(psi: Sequence[int], limit: int = 4) -> list[int]:
    """Up to `limit` primary classes with the most auxiliary classes (ties: lower index first);
    where ψ is uneven these are the classes with the most to show."""
    order = sorted(range(len(psi)), key=lambda i: (-psi[i], i))
    return order[: max(0, limit)]


def group_rows(labels: AuxLabels, primary_class: int, per_row: int = 8) -> list[AuxRow]:
    """One AuxRow per auxiliary class of `primary_class`'s block, in block order; each holds the
    rows assigned to it, most confident first (ties: file order), at most `per_row` of them."""
    psi = labels.psi
    start = int(sum(psi[:primary_class]))
    members = np.flatnonzero(labels.primary == primary_class)
    total = len(members)
    grouped = []
    for k in range(start, start + psi[primary_class]):
        mine = members[labels.aux[members] == k]
        order = np.argsort(-labels.confidence[mine], kind="stable")
        grouped.append(
            AuxRow(
                aux_class=k,
                rows=[int(r) for r in labels.rows[mine[order][:per_row]]],
                count=len(mine),
                share=len(mine) / total if total else 0.0,
            )
        )
    return grouped
