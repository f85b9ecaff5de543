"""Named regions of the real training code (`with phase("direction"):`), which a profiler can
time while calling that code; without a listener a region costs one context-variable read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

Listener = Callable[[str], AbstractContextManager[object]]  # a region's name -> its timer

LISTENER: ContextVar[Listener | None] = ContextVar("maxl_phase_listener", default=None)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Mark the enclosed code as the region `name` for whoever listens (nothing else)."""
    listener = LISTENER.get()
    if listener is None:
        yield
        return
    with listener(name):
        yield


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Let `listener` wrap every region entered in this context, until the block ends."""
    token = LISTENER.set(listener)
    try:
        yield
    finally:
        LISTENER.reset(token)
