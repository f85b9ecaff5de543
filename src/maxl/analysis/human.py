"""Which human classes land in each generated auxiliary class, per primary class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from maxl.analysis.metrics import normalized_mutual_information


@dataclass(frozen=True)
class HumanAgreement:
    """One primary class: the NMI of its generated and human labels, the median probability
    of the most likely auxiliary class, and counts[i, j] of aux_classes[i] × humans[j]."""

    nmi: float
    median_confidence: float
    aux_classes: list[int]
    humans: list[int]
    counts: np.ndarray


def human_agreement(
    aux: np.ndarray, confidence: np.ndarray, primary: np.ndarray, human: np.ndarray
) -> dict[int, HumanAgreement]:
    """Per primary class with at least two human classes among its images (arrays [N])."""
    found = {}
    for cls in np.unique(primary):
        mine = primary == cls
        humans = np.unique(human[mine])
        if len(humans) < 2:
            continue
        generated, people = aux[mine], human[mine]
        classes = np.unique(generated)
        counts = np.array([[np.sum((generated == k) & (people == h)) for h in humans]
                           for k in classes])  # fmt: skip
        found[int(cls)] = HumanAgreement(
            nmi=normalized_mutual_information(
                torch.from_numpy(generated), torch.from_numpy(people)
            ),
            median_confidence=float(np.median(confidence[mine])),
            aux_classes=[int(k) for k in classes],
            humans=[int(h) for h in humans],
            counts=counts.astype(np.int64),
        )
    return found
