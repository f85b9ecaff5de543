"""`maxl map`: the map: section (or --sizes / --size-epochs) is parsed or refused in one line,
MAXL's generator steps follow their closed form (and the count of a real run), the share of
the human gain MAXL reaches is computed by hand, and a tiny map writes one map.csv row per
size and method whose accuracies are those of the runs' own results.json."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import statistics

import pytest

from maxl.assembly import train
from maxl.cli import main
from maxl.config import TrainConfig
from maxl.config_file import MapPlan, parse_map
from maxl.errors import MaxlError
from maxl.gain_map import MapRow, gap_closed, generator_steps
from maxl.methods.maxl import LearnedLabels
from maxl.summaries import MethodSummary

# --- parse_map --------------------------------------------------------------------------------


def test_parse_map_reads_one_epochs_value_per_size():
    plan = parse_map({"train_size": [250, 500, 1000], "epochs": [120, 80, 60]}, "file.yaml")
    assert plan == MapPlan(sizes=(250, 500, 1000), epochs=(120, 80, 60))


@pytest.mark.parametrize("epochs", [[40], 40, "40"])
def test_one_epochs_value_serves_every_size(epochs):
    assert parse_map({"train_size": [100, 200, 300], "epochs": epochs}, "map").epochs == (40,) * 3


def test_tune_seeds_are_read_per_size_or_one_for_all():
    plan = parse_map({"train_size": [250, 2000], "epochs": [9], "tune_seeds": [3, 1]}, "map")
    assert plan == MapPlan((250, 2000), (9, 9), (3, 1))
    assert parse_map({"train_size": [250, 2000], "tune_seeds": 2}, "map").tune_seeds == (2, 2)


def test_without_epochs_every_size_keeps_the_run_s_own():
    assert parse_map({"train_size": [100, "200"]}, "map") == MapPlan((100, 200), ())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"train_size": [100, 200, 300], "epochs": [5, 6]}, "3 train_size value(s) but 2 epochs"),
        ({"train_size": [100, "many"]}, "map train_size: [100, 'many'] is not a list of whole"),
        ({"train_size": [100], "epochs": ["x"]}, "map epochs: ['x'] is not a list of whole"),
        ({"train_size": [100, None]}, "is not a list of whole numbers"),
        ({"train_size": [100, 0]}, "must be whole numbers of at least 1"),
        ({"train_size": [100], "epochs": [-2]}, "must be whole numbers of at least 1"),
        ({"train_size": []}, "must be whole numbers of at least 1"),
        ({"epochs": [5]}, "'map' must give train_size"),
        ([100, 200], "'map' must give train_size"),
        ({"train_size": [100], "epoch": [5]}, "unknown key(s) ['epoch']"),
        ({"train_size": [100, 200], "tune_seeds": [1, 2, 3]}, "2 train_size value(s) but 3"),
        ({"train_size": [100], "tune_seeds": [0]}, "map tune_seeds: [0] must be whole numbers"),
        ({"train_size": [250.9]}, "is not a list of whole numbers"),
        ({"train_size": [100, True]}, "is not a list of whole numbers"),
    ],
)
def test_a_bad_map_is_one_clear_error(value, message):
    with pytest.raises(MaxlError) as refused:
        parse_map(value, "where.yaml")
    text = str(refused.value)
    assert text.startswith("where.yaml: ") and message in text and "\n" not in text


# --- generator_steps --------------------------------------------------------------------------

STEPS = TrainConfig(dataset="digits", method="maxl", epochs=3, batch_size=50)


@pytest.mark.parametrize(
    ("changes", "size", "expected"),
    [
        ({}, 250, 3 * 5),  # 5 batches per epoch
        ({}, 130, 3 * 3),  # 50 + 50 + 30
        ({"meta_every": 2}, 250, 3 * 3),  # batches 1, 3, 5
        ({"meta_every": 2}, 200, 3 * 2),  # batches 1, 3
        ({"meta_data": "holdout:0.2"}, 250, 3 * 4),  # 50 held out: 200 train in 4 batches
        ({"meta_data": "holdout:0.2", "meta_every": 2}, 250, 3 * 2),
        ({"meta_data": "holdout:0.2", "meta_every": 2}, 260, 3 * 3),  # 52 held: 208 in 5
        ({"meta_data": "next", "epochs": 7}, 100, 7 * 2),
        ({}, 101, 3 * 2),  # the last batch of one image is dropped
        # the fused schedule counts every meta_every-th batch of the whole run: 104 images in
        # 5 batches of 25, 10 batches in 2 epochs, steps on batches 1, 3, 5, 7, 9
        (
            {
                "schedule": "batches",
                "batch_size": 25,
                "epochs": 2,
                "meta_every": 2,
                "meta_data": "holdout:0.2",
            },
            130,
            5,
        ),
    ],
)
def test_generator_steps_by_hand(changes, size, expected):
    assert generator_steps(dataclasses.replace(STEPS, **changes), size) == expected


def test_generator_steps_are_those_a_run_takes(tmp_path, monkeypatch):
    """--schedule epochs (the paper's): the meta steps of a real run, counted."""
    calls = {"n": 0}
    meta_step = LearnedLabels.meta_step

    def counted(self, *args, **kwargs):
        calls["n"] += 1
        return meta_step(self, *args, **kwargs)

    monkeypatch.setattr(LearnedLabels, "meta_step", counted)
    config = TrainConfig(dataset="digits", method="maxl", psi=(2,), train_size=130, batch_size=25,
                         epochs=2, meta_every=2, meta_data="holdout:0.2", schedule="epochs",
                         analysis_size=0, device="cpu", progress=False,
                         out=tmp_path / "run")  # fmt: skip
    train(config)
    # 26 of 130 held out, 104 left: 5 batches of 25, every 2nd: 3 per epoch
    assert calls["n"] == 2 * 3
    assert generator_steps(config, 130) == calls["n"]


# --- gap_closed -------------------------------------------------------------------------------


def summary(method: str, gains: dict[int, float]) -> MethodSummary:
    accuracies = {seed: 0.5 + gain for seed, gain in gains.items()}
    return MethodSummary(method, accuracies, gains)


def row(*summaries: MethodSummary) -> MapRow:
    return MapRow(size=100, epochs=2, generator_steps=4, summaries=list(summaries))


def test_gap_closed_is_maxl_s_gain_as_a_share_of_human_s():
    single = summary("single", {0: 0.0, 1: 0.0})
    human = summary("human", {0: 0.10, 1: 0.30})  # mean gain 0.20
    maxl = summary("maxl", {0: 0.02, 1: 0.08})  # mean gain 0.05
    random = summary("random", {0: -0.04, 1: -0.06})  # mean gain -0.05
    assert gap_closed(row(single, human, maxl)) == pytest.approx(0.25)
    assert gap_closed(row(single, human, maxl, random), "random") == pytest.approx(-0.25)
    beyond = summary("maxl", {0: 0.3, 1: 0.5})
    assert gap_closed(row(single, human, beyond)) == pytest.approx(2.0)


def test_gap_closed_is_none_without_a_human_gain_or_a_method():
    single = summary("single", {0: 0.0})
    maxl = summary("maxl", {0: 0.05})
    assert gap_closed(row(single, maxl)) is None  # no human
    assert gap_closed(row(single, summary("human", {0: 0.1}))) is None  # no maxl
    assert gap_closed(row(single, summary("human", {0: 0.0}), maxl)) is None
    assert gap_closed(row(single, summary("human", {0: 0.1, 1: -0.2}), maxl)) is None
    assert gap_closed(row(single, MethodSummary("human", {0: 0.6}, {}), maxl)) is None
    assert gap_closed(row(single, summary("human", {0: 0.1}), MethodSummary("maxl", {}, {}))) == 0


def test_a_gain_within_twice_its_spread_on_fewer_than_5_seeds_is_due_more_seeds():
    from maxl.gain_map import seeds_due, seeds_due_note

    single = MethodSummary("single", {0: 0.7, 1: 0.7, 2: 0.7}, {})
    clear = MethodSummary("human", {}, {0: 0.02, 1: 0.03, 2: 0.025})  # mean 2.5, sd 0.5 points
    close = MethodSummary("maxl", {}, {0: 0.01, 1: -0.01, 2: 0.02})  # mean 0.67, sd 1.53
    five = MethodSummary("random", {}, {seed: (-1) ** seed * 0.01 for seed in range(5)})
    rows = [MapRow(250, 9, 0, [single, clear, close, five]), MapRow(500, 9, 0, [single, close])]
    assert seeds_due(rows) == [(250, "maxl"), (500, "maxl")]
    assert seeds_due(rows, wanted=3) == []
    assert seeds_due_note(rows).endswith(
        "more seeds before they are read: 250 images: maxl; 500 images: maxl."
    )
    assert seeds_due_note([MapRow(250, 9, 0, [single, clear])]) == ""


# --- maxl map end to end ----------------------------------------------------------------------


def test_a_tiny_map_writes_one_row_per_size_and_method(tmp_path, capsys):
    out = tmp_path / "map"
    args = ["map", "--dataset", "digits", "--primary-level", "2", "--sizes", "100,200"]
    args += ["--size-epochs", "2", "--methods", "single,random,maxl", "--seeds", "0,1"]
    args += ["--analysis-size", "0", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    with (out / "map.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["train_size"], r["method"]) for r in rows] == [
        ("100", "single"),
        ("100", "random"),
        ("100", "maxl"),
        ("200", "single"),
        ("200", "random"),
        ("200", "maxl"),
    ]
    for r in rows:
        size = int(r["train_size"])
        accuracy = {}
        for method in ("single", "random", "maxl"):
            for seed in (0, 1):
                path = out / f"size-{size}" / f"{method}-seed{seed}" / "results.json"
                results = json.loads(path.read_text())
                assert results["epochs"] == 2 and results["num_train"] == size
                accuracy[method, seed] = results["test_accuracy"]
        method = r["method"]
        mean = statistics.fmean(accuracy[method, seed] for seed in (0, 1))
        assert float(r["mean_accuracy"]) == pytest.approx(mean, abs=1e-6)
        assert int(r["runs"]) == 2 and int(r["epochs"]) == 2
        # the maxl run's generator steps: 2 epochs of one step per batch (default batch 100)
        assert int(r["generator_steps"]) == 2 * math.ceil(size / 100)
        if method == "random":
            gain = statistics.fmean(accuracy["random", s] - accuracy["single", s] for s in (0, 1))
            assert float(r["mean_gain_over_single"]) == pytest.approx(gain, abs=1e-6)
    assert (out / "map.md").is_file() and (out / "map.png").stat().st_size > 0
    assert "map: " in capsys.readouterr().out


def test_sizes_from_the_command_line_take_their_epochs_from_the_files_map(tmp_path, capsys):
    config = tmp_path / "map.yaml"
    config.write_text(
        "dataset: digits\nprimary_level: '2'\nmethods: [single]\nseeds: [0]\n"
        "analysis_size: 0\nmap: {train_size: [100, 200, 300], epochs: [3, 2, 1]}\n"
    )
    out = tmp_path / "m"
    args = ["map", "--config", str(config), "--sizes", "300,100", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    epochs = {size: json.loads((out / f"size-{size}" / "single-seed0" / "results.json")
                               .read_text())["epochs"] for size in (100, 300)}  # fmt: skip
    assert epochs == {100: 3, 300: 1}
    assert main(["map", "--config", str(config), "--sizes", "150", "--out", str(out)]) == 2
    assert "are not in the file's map" in capsys.readouterr().err


def map_from_file(tmp_path, text: str, *extra: str) -> tuple:
    """Write a map file of `text`, run `maxl map` on it into tmp_path/m; (exit code, out)."""
    config = tmp_path / "map.yaml"
    config.write_text(text)
    out = tmp_path / "m"
    return main(["map", "--config", str(config), "--no-progress", "--out", str(out), *extra]), out


def test_a_files_variant_is_a_row_of_the_map_at_every_size(tmp_path):
    code, out = map_from_file(
        tmp_path,
        "dataset: digits\nprimary_level: '2'\nmethods: [single, maxl-fast]\nseeds: [0]\n"
        "analysis_size: 0\nvariants: {maxl-fast: {method: maxl, gen_lr: 0.3}}\n"
        "map: {train_size: [100, 200], epochs: [1]}\n",
    )
    assert code == 0
    with (out / "map.csv").open() as handle:
        rows = [(r["train_size"], r["method"]) for r in csv.DictReader(handle)]
    assert rows == [
        ("100", "single"),
        ("100", "maxl-fast"),
        ("200", "single"),
        ("200", "maxl-fast"),
    ]
    for size in (100, 200):
        results = json.loads(
            (out / f"size-{size}" / "maxl-fast-seed0" / "results.json").read_text()
        )
        assert results["method"] == "maxl" and results["config"]["gen_lr"] == 0.3
        assert results["num_train"] == size


TUNED_MAP = (
    "dataset: digits\nprimary_level: '2'\nmethods: [single, maxl]\nseeds: [0, 1]\n"
    "analysis_size: 0\ntune_single: {lr: [0.05, 0.2]}\ntune_maxl: {gen_lr: [0.001]}\n"
    "map: {train_size: [100, 200], epochs: [1], tune_seeds: [2, 1]}\n"
)


def tuned_seeds(size_folder, folder: str, method: str) -> list[int]:
    """The seed of every tuning run of `method` in size_folder/folder, sorted."""
    runs = (size_folder / folder).glob(f"*/{method}-seed*")
    return sorted(int(run.name.rpartition("seed")[2]) for run in runs)


def test_each_size_tunes_on_the_seeds_its_map_gives_and_map_md_says_so(tmp_path):
    code, out = map_from_file(tmp_path, TUNED_MAP)
    assert code == 0
    small, large = out / "size-100", out / "size-200"
    assert tuned_seeds(small, "tune", "single") == [0, 0, 1, 1]  # 2 points x 2 seeds
    assert tuned_seeds(small, "tune-maxl", "maxl") == [0, 1]
    assert tuned_seeds(large, "tune", "single") == [0, 0]
    assert tuned_seeds(large, "tune-maxl", "maxl") == [0]
    for folder in (small, large):  # every row still trains and tests on both seeds
        for name in ("single-seed0", "single-seed1", "maxl-seed0", "maxl-seed1"):
            assert (folder / name / "results.json").is_file()
    expected = "first seeds of each size: 2 at 100 images, 1 at 200 images"
    assert expected in (out / "map.md").read_text()
    assert "on seed 0," in (large / "summary.md").read_text()


def test_sizes_from_the_command_line_take_their_tuning_seeds_from_the_files_map(tmp_path, capsys):
    code, out = map_from_file(tmp_path, TUNED_MAP, "--sizes", "200")
    assert code == 0 and tuned_seeds(out / "size-200", "tune", "single") == [0, 0]
    code, _ = map_from_file(tmp_path, TUNED_MAP, "--sizes", "150", "--size-epochs", "1")
    assert code == 2
    assert "which gives tune_seeds per size; add them there" in capsys.readouterr().err


def test_the_map_of_a_folder_holds_the_sizes_an_earlier_map_finished(tmp_path):
    text = (
        "dataset: digits\nprimary_level: '2'\nmethods: [single, random]\nseeds: [0, 1]\n"
        "analysis_size: 0\nmap: {train_size: [100, 200], epochs: [2, 1]}\n"
    )
    assert map_from_file(tmp_path, text, "--sizes", "100")[0] == 0
    code, out = map_from_file(tmp_path, text, "--sizes", "200")
    assert code == 0
    with (out / "map.csv").open() as handle:
        rows = {(r["train_size"], r["method"]): r for r in csv.DictReader(handle)}
    assert sorted(rows) == [
        ("100", "random"),
        ("100", "single"),
        ("200", "random"),
        ("200", "single"),
    ]
    for size, epochs in (("100", 2), ("200", 1)):
        accuracy = {
            (m, s): json.loads(
                (out / f"size-{size}" / f"{m}-seed{s}" / "results.json").read_text()
            )["test_accuracy"]
            for m in ("single", "random")
            for s in (0, 1)
        }
        gain = statistics.fmean(accuracy["random", s] - accuracy["single", s] for s in (0, 1))
        row = rows[size, "random"]
        assert float(row["mean_gain_over_single"]) == pytest.approx(gain, abs=1e-6)
        assert int(row["epochs"]) == epochs and int(row["runs"]) == 2


def test_a_saved_row_is_read_on_the_seeds_every_method_finished(tmp_path):
    from maxl.gain_map import saved_row
    from maxl.run_folder import write_results

    folder = tmp_path / "size-300"
    finished = {("single", 0): 0.70, ("single", 1): 0.72, ("random", 0): 0.75}
    for (method, seed), accuracy in finished.items():
        (folder / f"{method}-seed{seed}").mkdir(parents=True)
        write_results(folder / f"{method}-seed{seed}", {"test_accuracy": accuracy, "epochs": 7})
    (folder / "random-seed1").mkdir()  # still running: seed 1 is left out
    row = saved_row(folder, ["single", "random", "human"])  # human never ran there
    assert row is not None and (row.size, row.epochs, row.generator_steps) == (300, 7, 0)
    assert [s.method for s in row.summaries] == ["single", "random"]
    random = row.summary("random")
    assert random is not None and random.gains == pytest.approx({0: 0.05})
    assert saved_row(tmp_path / "size-9", ["single"]) is None  # no folder, no row
