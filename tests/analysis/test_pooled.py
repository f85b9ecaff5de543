"""Paired gains over a map, pooled: the pairing by size and seed read off run folders written
here, and the pooled statistics against scipy's paired t test and exact binomial test."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from maxl.analysis.pooled import paired_gains, pool
from maxl.errors import MaxlError
from maxl.run_folder import write_results


def write_run(folder, accuracy):
    folder.mkdir(parents=True)
    write_results(folder, {"test_accuracy": accuracy})


def test_runs_pair_by_size_and_seed_and_only_when_both_finished(tmp_path):
    write_run(tmp_path / "size-1000" / "maxl-seed0", 0.80)
    write_run(tmp_path / "size-1000" / "single-seed0", 0.78)
    write_run(tmp_path / "size-250" / "maxl-seed1", 0.70)
    write_run(tmp_path / "size-250" / "single-seed1", 0.71)
    write_run(tmp_path / "size-250" / "maxl-seed0", 0.65)
    write_run(tmp_path / "size-250" / "single-seed0", 0.60)
    write_run(tmp_path / "size-250" / "maxl-untrained-seed2", 0.90)  # another method
    write_run(tmp_path / "size-250" / "single-seed2", 0.60)
    write_run(tmp_path / "size-250" / "maxl-seed3", 0.90)
    (tmp_path / "size-250" / "single-seed3").mkdir()  # unfinished: no pair
    (tmp_path / "tune").mkdir()  # not a size folder
    gains = paired_gains(tmp_path, "maxl", "single")
    assert [(g.size, g.seed) for g in gains] == [(250, 0), (250, 1), (1000, 0)]
    assert [g.points for g in gains] == pytest.approx([5.0, -1.0, 2.0])


def test_pooled_statistics_match_scipys_paired_and_sign_tests():
    ours = [0.712, 0.645, 0.803, 0.777, 0.690, 0.731, 0.750]
    theirs = [0.700, 0.650, 0.790, 0.770, 0.690, 0.720, 0.741]
    gains = [100 * (a - b) for a, b in zip(ours, theirs, strict=True)]
    pooled = pool(gains)
    reference = stats.ttest_rel(ours, theirs)
    assert pooled.t == pytest.approx(reference.statistic)
    assert pooled.t_p == pytest.approx(reference.pvalue)
    # one tie (0.690 both) is dropped: 5 wins, 1 loss out of 6
    assert (pooled.count, pooled.wins) == (7, 5)
    assert pooled.sign_p == pytest.approx(stats.binomtest(5, 6, 0.5).pvalue)
    assert pooled.mean == pytest.approx(100 * (sum(ours) - sum(theirs)) / 7)


def test_one_gain_has_no_spread_and_equal_gains_are_certain():
    single = pool([1.5])
    assert single.count == 1 and math.isnan(single.std) and math.isnan(single.t_p)
    assert pool([0.4, 0.4, 0.4]).t == math.inf


def test_a_folder_that_is_not_a_map_is_named(tmp_path):
    with pytest.raises(MaxlError, match="not a folder"):
        paired_gains(tmp_path / "missing", "maxl", "single")
    with pytest.raises(MaxlError, match="no size-N folders"):
        paired_gains(tmp_path, "maxl", "single")
    with pytest.raises(MaxlError, match="no paired runs"):
        pool([])
