"""`maxl bench --phases`: the real iteration timed region by region, beside single."""

import json

from maxl.cli import main


def test_phases_time_the_real_regions_of_each_row_beside_single(capsys):
    argv = ["bench", "--batch-size", "8", "--image-size", "8", "--iterations", "2", "--warmup", "0"]
    assert main([*argv, "--phases", "exact,exact-depth1", "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert list(profile) == ["single", "exact", "exact-depth1"]
    assert list(profile["single"]) == ["rest of the iteration", "whole iteration"]
    regions = ["direction", "label sensitivity", "generator backward"]
    assert list(profile["exact"]) == [*regions, "rest of the iteration", "whole iteration"]
    assert next(iter(profile["exact-depth1"])) == "features below the top blocks"
    for seconds in profile.values():
        assert all(value > 0 for value in seconds.values())
        assert sum(seconds.values()) - seconds["whole iteration"] <= seconds["whole iteration"]


def test_phases_table_and_an_unknown_row(capsys):
    argv = ["bench", "--batch-size", "4", "--image-size", "8", "--iterations", "1", "--warmup", "0"]
    assert main([*argv, "--phases", "finite-difference"]) == 0
    table = capsys.readouterr().out
    assert "maxl (finite-difference):" in table and "| label sensitivity |" in table
    assert main([*argv, "--phases", "exact,fused"]) == 2
    assert "unknown row(s) ['fused']" in capsys.readouterr().err
