"""Wall time of the named regions of `maxl.phases`, as a listener records it: the raw material
of `maxl bench --phases`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class PhaseTimes:
    """A `maxl.phases` listener: seconds per region name, one entry per time a region ran.
    `synchronize` runs before each clock reading (a CUDA device's queue, say)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.perf_counter,
        synchronize: Callable[[], None] | None = None,
    ) -> None:
        self.clock = clock
        self.synchronize = synchronize
        self.seconds: dict[str, list[float]] = {}

    def now(self) -> float:
        if self.synchronize is not None:
            self.synchronize()
        return self.clock()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = self.now()
        yield
        self.seconds.setdefault(name, []).append(self.now() - start)

    def total(self) -> float:
        """All the recorded seconds together."""
        return sum(sum(values) for values in self.seconds.values())


def median_phases(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Per region name, the median of its seconds over the rounds (0 in a round without it)."""
    names = list(dict.fromkeys(name for seconds in rounds for name in seconds))
    return {name: statistics.median(r.get(name, 0.0) for r in rounds) for name in names}
