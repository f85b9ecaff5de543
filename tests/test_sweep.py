"""`maxl sweep` end to end on .npz data the test builds, checked against the runs' own files."""

import csv
import json

import numpy as np
import pytest

from maxl.cli import main
from maxl.errors import MaxlError
from maxl.sweep import parse_sweep

FAST = ["--epochs", "1", "--batch-size", "20", "--no-progress", "--analysis-size", "40"]


def test_values_are_typed_like_the_config_file():
    assert parse_sweep("psi", ["2", "3,1"]) == ("psi", [(2,), (3, 1)])
    assert parse_sweep("entropy-weight", ["0", "0.2"]) == ("entropy_weight", [0.0, 0.2])
    assert parse_sweep("augment", ["true", "false"]) == ("augment", [True, False])


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (["method", "single", "maxl"], "cannot sweep 'method'"),
        (["colour", "1"], "cannot sweep 'colour'"),
        (["lr"], "has no values"),
        (["lr", "0.1", "0.1"], "repeats a value"),
        (["epochs", "two"], "'epochs' is 'two', which is not a int"),
    ],
)
def test_bad_sweeps_are_refused_with_the_fix(vary, message):
    with pytest.raises(MaxlError, match=message):
        parse_sweep(vary[0], vary[1:])


def test_a_sweep_summarises_each_value_from_its_runs(tmp_path, npz_with_fine_labels, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--dataset", f"npz:{npz_with_fine_labels}", *FAST, "--out", str(out)]
    argv += ["--seeds", "0,1", "--methods", "random,maxl", "--vary", "entropy-weight", "0", "1"]
    assert main(argv) == 0
    with (out / "sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["value"], r["method"]) for r in rows] == [
        ("0", "random"),
        ("0", "maxl"),
        ("1", "random"),
        ("1", "maxl"),
    ]
    for row in rows:
        folder = out / f"entropy_weight-{row['value']}"
        runs = [
            json.loads((folder / f"{row['method']}-seed{s}" / "results.json").read_text())
            for s in (0, 1)
        ]
        assert {r["config"]["entropy_weight"] for r in runs} == {float(row["value"])}
        assert float(row["mean_accuracy"]) == pytest.approx(
            np.mean([r["test_accuracy"] for r in runs]), abs=1e-6
        )
        last = [
            json.loads(
                (folder / f"{row['method']}-seed{s}" / "metrics.jsonl").read_text().splitlines()[-1]
            )
            for s in (0, 1)
        ]
        assert float(row["grad_cosine"]) == pytest.approx(
            np.mean([m["grad_cosine"] for m in last]), abs=1e-6
        )
        assert (folder / "summary.csv").is_file()
    for png in (out / "sweep.png", out / "figures" / "accuracy.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 1 | maxl |" in (out / "sweep.md").read_text()
    # a second call reuses every finished run
    assert main(argv) == 0
    assert capsys.readouterr().out.count("reusing") == 8


def test_a_bad_sweep_on_the_command_line_exits_2(capsys):
    assert main(["sweep", "--vary", "seed", "1", "2"]) == 2
    assert "cannot sweep 'seed'" in capsys.readouterr().err
