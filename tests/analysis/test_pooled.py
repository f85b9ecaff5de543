"""Paired gains over a map, pooled: the pairing by size and seed read off run folders written
here, and the pooled statistics against scipy's paired t test and exact binomial test."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from scipy import stats

from maxl.analysis.pooled import (
    GainSummary,
    combine,
    paired_gains,
    paired_tests,
    pool,
    read_recorded,
    summarise_gains,
)
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


def test_groups_combine_to_the_summary_of_their_union():
    groups = [[1.2, -0.4, 0.9], [0.3, 0.0], [2.5], [-1.1, 0.7, 0.2, 0.4]]
    combined = combine([summarise_gains(group) for group in groups])
    union = [gain for group in groups for gain in group]
    assert combined.count == len(union)
    assert combined.mean == pytest.approx(sum(union) / len(union))
    assert combined.std == pytest.approx(stats.tstd(union))
    assert (combined.wins, combined.ties) == (7, 1)
    # the tests on the combined summary are those on the union itself
    whole = paired_tests(combined)
    reference = stats.ttest_1samp(union, 0.0)
    assert whole.t == pytest.approx(reference.statistic)
    assert whole.t_p == pytest.approx(reference.pvalue)
    assert whole.sign_p == pytest.approx(stats.binomtest(7, 9, 0.5).pvalue)


def test_a_recorded_row_pools_like_its_runs():
    # a row known only as "+0.50 ± 0.30 (2/3)" and two new runs: the recorded row's own gains
    # (0.5 - 0.3, 0.5, 0.5 + 0.3 have that mean and sample spread) give the reference
    recorded = GainSummary(count=3, mean=0.5, std=0.3, wins=3)
    new = [0.1, -0.2]
    combined = combine([recorded, summarise_gains(new)])
    union = [0.2, 0.5, 0.8, *new]
    assert combined.mean == pytest.approx(statistics.fmean(union))
    assert combined.std == pytest.approx(statistics.stdev(union))
    assert combined.wins == 4


def test_nothing_to_summarise_is_named():
    with pytest.raises(MaxlError, match="no paired runs"):
        summarise_gains([])
    with pytest.raises(MaxlError, match="no paired runs"):
        combine([])


def test_recorded_rows_are_read_with_their_seeds_and_comments_skipped(tmp_path):
    path = tmp_path / "recorded.csv"
    path.write_text(
        "# recorded by hand\n"
        "first,second,size,seeds,mean,std,wins,ties\n"
        "maxl,single,500,0 1 2,0.15,0.13,2,1\n"
    )
    (row,) = read_recorded(path)
    assert (row.first, row.second, row.size, row.seeds) == ("maxl", "single", 500, (0, 1, 2))
    assert row.summary == GainSummary(count=3, mean=0.15, std=0.13, wins=2, ties=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("first,second,size\n", "lacks the column"),
        (
            "first,second,size,seeds,mean,std,wins,ties\nmaxl,single,500,0 1,high,0.1,1,0\n",
            "data row 1",
        ),
        (
            "first,second,size,seeds,mean,std,wins,ties\nmaxl,single,500,0 1,0.2,0.1,3,0\n",
            "no more wins",
        ),
    ],
)
def test_a_bad_recorded_file_is_one_error_naming_the_row(tmp_path, text, message):
    path = tmp_path / "recorded.csv"
    path.write_text(text)
    with pytest.raises(MaxlError, match=message):
        read_recorded(path)
    with pytest.raises(MaxlError, match="cannot read"):
        read_recorded(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("name", "first", "second", "expected"),
    [  # the pooled tables docs/results.md printed on 2026-12-03 from the runs themselves
        ("map-pairs", "human", "single", (17, 0.58, 1.36, 12)),
        ("map-pairs", "maxl", "maxl-untrained", (17, -0.26, 0.77, 6)),
        ("map-10", "maxl-untrained", "single", (17, 0.92, 1.11, 15)),
        ("map-10", "maxl", "maxl-untrained", (17, -0.00, 0.50, 9)),
    ],
)
def test_the_recorded_rows_reproduce_the_pooled_tables_of_their_runs(name, first, second, expected):
    path = Path(__file__).resolve().parents[2] / "docs" / "recorded" / f"{name}.csv"
    rows = [r for r in read_recorded(path) if (r.first, r.second) == (first, second)]
    whole = combine([row.summary for row in rows])
    count, mean, std, wins = expected
    assert (whole.count, whole.wins) == (count, wins)
    assert whole.mean == pytest.approx(mean, abs=0.006)  # the rows carry two decimals
    assert whole.std == pytest.approx(std, abs=0.006)
