"""How far a run's auxiliary labels moved from those of its untrained generator."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maxl.analysis.metrics import mean_label_entropy, nmi_within_groups


@dataclass(frozen=True)
class LabelDrift:
    """Share of images in the same most likely class at start and end, the within-primary-class
    NMI of the two labellings (None if no class qualifies), and the start's label entropy."""

    same_class: float
    nmi_within: float | None
    start_entropy: float


def label_drift(
    start: torch.Tensor, final: torch.Tensor, primary: torch.Tensor, sample: torch.Tensor
) -> LabelDrift:
    """Drift from the start's label distributions [N, K] to the final classes [N], the NMI
    inside each primary class, the start's mean entropy over the `sample` rows."""
    start_classes = start.argmax(1)
    return LabelDrift(
        same_class=float((start_classes == final).double().mean()),
        nmi_within=nmi_within_groups(start_classes, final, primary),
        start_entropy=mean_label_entropy(start[sample]),
    )
