"""The layout rule for image arrays, shared by .npz files, streamed Datasets and predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maxl.errors import MaxlError


def to_nchw(x: np.ndarray, key: str, file: str | Path) -> np.ndarray:
    """(N,H,W) -> (N,1,H,W); 4-D: NCHW if dim 1 is 1 or 3, else NHWC if the last dim is 1/3/4."""
    layout = None
    if x.ndim == 3:
        layout = "NHW"
    elif x.ndim == 4 and x.shape[1] in (1, 3):
        layout = "NCHW"
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4):
        layout = "NHWC"
    elif x.ndim == 4 and x.shape[1] == 4:
        layout = "NCHW"
    if layout is None or len(x) == 0:
        raise MaxlError(
            f"{file}: {key} has shape {x.shape}; images must be a non-empty (N,H,W), "
            "(N,H,W,C) or (N,C,H,W) array with C in 1, 3, 4"
        )
    if layout == "NHW":
        return x[:, None]
    return x.transpose(0, 3, 1, 2) if layout == "NHWC" else x
