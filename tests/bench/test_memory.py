"""The CPU memory probe's reading: the kernel's peak mark since the reset counts memory that
was touched and freed again."""

import numpy as np
import pytest

from maxl.bench.memory import reset_peak_rss, rss_mb


def test_the_peak_mark_counts_memory_touched_after_the_reset():
    if not reset_peak_rss():
        pytest.skip("the peak-RSS reset needs Linux's /proc")
    before = rss_mb("VmRSS")
    block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, every page written
    assert rss_mb("VmRSS") - before >= 60
    del block
    assert rss_mb("VmHWM") - before >= 60
