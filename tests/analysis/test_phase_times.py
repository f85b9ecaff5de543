"""PhaseTimes as a `maxl.phases` listener, on a clock that ticks by hand."""

import pytest

from maxl.analysis.phase_times import PhaseTimes, median_phases
from maxl.phases import listening, phase


def test_each_region_gets_its_own_seconds():
    ticks = iter([0.0, 2.0, 5.0, 6.0, 10.0, 13.0])
    times = PhaseTimes(clock=lambda: next(ticks))
    with listening(times):
        with phase("a"):
            pass
        with phase("b"):
            pass
        with phase("a"):
            pass
    assert times.seconds == {"a": [2.0, 3.0], "b": [1.0]}
    assert times.total() == 6.0


def test_synchronize_runs_before_each_clock_reading():
    calls = []
    times = PhaseTimes(clock=lambda: float(len(calls)), synchronize=lambda: calls.append(1))
    with listening(times), phase("a"):
        pass
    assert len(calls) == 2 and times.seconds == {"a": [1.0]}


def test_no_listener_no_record_and_the_listener_ends_with_its_block():
    times = PhaseTimes()
    with phase("before"):
        pass
    with listening(times):
        pass
    with phase("after"):
        pass
    assert times.seconds == {}


def test_an_exception_inside_a_region_passes_through():
    times = PhaseTimes()
    with pytest.raises(KeyError), listening(times), phase("a"):
        raise KeyError("x")


def test_median_phases_counts_a_missing_region_as_zero():
    rounds = [{"a": 1.0, "b": 4.0}, {"a": 3.0}, {"a": 2.0, "b": 6.0}]
    assert median_phases(rounds) == {"a": 2.0, "b": 4.0}
