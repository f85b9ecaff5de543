"""aux_labels.npz: the auxiliary class a finished run gives each training image, so that
`maxl show` can group images by it without rebuilding (or retraining) the method."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from maxl.analysis.probe import label_distributions
from maxl.fit_state import FitState
from maxl.run_folder import write_aux_labels


def write_label_table(run: FitState, out: Path) -> Path | None:
    """Write OUT/aux_labels.npz: `rows` (indices into the dataset's training split), `primary`,
    `aux` (most likely auxiliary class), `confidence` (its probability) and `psi`; nothing for a
    method without auxiliary labels."""
    rows = torch.arange(len(run.x_train), device=run.x_train.device)
    labels = label_distributions(run, rows)
    if labels is None:
        return None
    confidence, aux = labels.max(1)
    return write_aux_labels(
        out,
        rows=run.task.train_indices.numpy().astype(np.int64),
        primary=run.y_train.cpu().numpy().astype(np.int64),
        aux=aux.cpu().numpy().astype(np.int64),
        confidence=confidence.cpu().numpy().astype(np.float32),
        psi=np.asarray(run.hierarchy.psi, dtype=np.int64),
    )
