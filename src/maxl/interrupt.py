"""Ctrl-C during training: finish the current step, write a checkpoint of that exact point, stop.

A KeyboardInterrupt in the middle of a step could leave the generator stepped and the network
not; deferring the first Ctrl-C to the next step boundary makes the checkpoint resumable to the
same result. A second Ctrl-C interrupts at once (the last checkpoint is then the previous one).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

import torch

from maxl.distributed import Ranks


class Interrupted(KeyboardInterrupt):
    """Training stopped at a step boundary on Ctrl-C; the message says where the checkpoint is."""


class StepBoundaryInterrupts:
    """Context manager that turns the first SIGINT into a request the loop reads between steps.

    Installed only in the main thread (signal handlers live there); elsewhere Ctrl-C is unchanged.
    """

    def __init__(self) -> None:
        self._requested = False
        self._installed = False
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None

    def __enter__(self) -> StepBoundaryInterrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._installed:  # None: the previous handler was not set from Python
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGINT, previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True

    def requested(self, ranks: Ranks | None, device: torch.device) -> bool:
        """Has Ctrl-C been pressed? In a data-parallel run: on any rank (all stop together)."""
        if ranks is None:
            return self._requested
        flag = torch.tensor([float(self._requested)], device=device)
        return bool(ranks.sum(flag).item() > 0)
