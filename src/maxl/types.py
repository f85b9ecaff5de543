"""Type aliases shared across layers, defined once here (a leaf: it imports no maxl module)."""

from __future__ import annotations

from collections.abc import Callable

import torch

Log = Callable[[str], None]  # where progress lines go: print, a logger's info, a list's append
Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs, primary labels)
MetaBatch = Batch | None  # the generator step's own batch, None: the multi-task batch
