"""Tuning single before a comparison: the grid, the choice on validation accuracy alone, the
late-rise (convergence) figure and the files, with a stand-in for training; then one real
comparison whose single row is the chosen setting's run on all the training images."""

from __future__ import annotations

import csv
import io
import itertools
import json

import numpy as np
import pytest

from maxl.cli import main
from maxl.config import TrainConfig
from maxl.config_file import load_experiment
from maxl.errors import MaxlError
from maxl.step import NonFiniteLoss
from maxl.tuning import (
    Tuning,
    TuningPoint,
    TuningResult,
    grid_edges,
    parse_tuning,
    tune_single,
    tuning_section,
    tuning_table,
    write_tuning_csv,
)


def fake_training(curves: dict[tuple[float, float], list[float]], diverge=()):
    """A train_fn that writes a metrics.jsonl with the given val curve and returns its end;
    its test accuracy is the opposite of its validation accuracy, so a choice on the test set
    would pick another point."""
    calls = []

    def train(config: TrainConfig, log) -> dict:
        calls.append(config)
        key = (config.lr, config.momentum)
        if key in diverge:
            raise NonFiniteLoss("the training loss became nan at epoch 1, step 3")
        curve = [value + 0.01 * config.seed for value in curves[key]]
        config.out.mkdir(parents=True)
        lines = [json.dumps({"epoch": i + 1, "val_accuracy": v}) for i, v in enumerate(curve)]
        (config.out / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        return {"val_accuracy": curve[-1], "test_accuracy": 1 - curve[-1]}

    return train, calls


def test_the_best_mean_validation_accuracy_wins_and_the_test_set_is_not_read(tmp_path):
    curves = {
        (0.1, 0.0): [0.5, 0.6, 0.7, 0.7, 0.7],
        (0.1, 0.9): [0.6, 0.8, 0.82, 0.81, 0.83],
        (0.3, 0.0): [0.4, 0.5, 0.6, 0.65, 0.75],
    }
    train, calls = fake_training(curves, diverge={(0.3, 0.9)})
    tuning = Tuning({"lr": [0.1, 0.3], "momentum": [0.0, 0.9]}, val_fraction=0.2)
    base = TrainConfig(dataset="digits", method="maxl")
    result = tune_single(base, tuning, [0, 1], tmp_path, train, log=lambda _: None)
    assert result.best.settings == {"lr": 0.1, "momentum": 0.9}
    assert {c.method for c in calls} == {"single"} and {c.val_fraction for c in calls} == {0.2}
    assert calls[0].out == tmp_path / "lr-0.1-momentum-0.0" / "single-seed0"
    assert [c.seed for c in calls] == [0] * 4 + [1] * 4  # seed-major
    best = result.best
    assert best.mean == pytest.approx((0.83 + 0.84) / 2)
    assert best.val_curve == pytest.approx([0.605, 0.805, 0.825, 0.815, 0.835])
    assert best.late_rise == pytest.approx(0.835 - 0.805)  # last minus best before the last 3
    diverged = next(p for p in result.points if p.settings == {"lr": 0.3, "momentum": 0.9})
    assert diverged.mean == 0.0
    table = tuning_table(result)
    assert "| lr 0.1, momentum 0.9 | 83.50 ± 0.71 | +3.00 | 2 | **chosen** |" in table
    write_tuning_csv(tmp_path / "tuning.csv", result)
    rows = list(csv.DictReader((tmp_path / "tuning.csv").open()))
    assert [r["chosen"] for r in rows] == ["0", "1", "0", "0"]
    assert rows[1]["lr"] == "0.1" and float(rows[1]["mean_val_accuracy"]) == pytest.approx(0.835)


def test_the_grid_is_read_from_the_command_line_and_from_a_file(tmp_path):
    parsed = parse_tuning(["lr=0.02,0.05", "momentum=0,0.9", "val_fraction=0.2"], "--tune-single")
    assert parsed == Tuning({"lr": [0.02, 0.05], "momentum": [0.0, 0.9]}, 0.2)
    assert parsed.points()[1] == {"lr": 0.02, "momentum": 0.9}
    assert parse_tuning(["off"], "--tune-single") is None
    file = tmp_path / "experiment.yaml"
    file.write_text("tune_single:\n  lr: [0.1, 0.2]\n  lr_step: [2]\nseeds: [0]\n")
    assert load_experiment(file)["tune_single"] == Tuning({"lr": [0.1, 0.2], "lr_step": [2]})


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["lr"], "'lr' is not SETTING=V1,V2"),
        (["seed=1,2"], "cannot tune 'seed'"),
        (["lr=fast"], "'lr' is 'fast', which is not a float"),
        (["val_fraction=1.5", "lr=0.1"], "val_fraction 1.5 must be strictly between 0 and 1"),
        (["val_fraction=0.2"], "nothing to tune"),
        (["lr=0.1", "seeds=0"], "seeds: '0' is not a whole number of at least 1"),
        (["lr=0.1", "seeds=two"], "seeds: 'two' is not a whole number"),
    ],
)
def test_a_bad_grid_is_one_clear_error(items, message):
    with pytest.raises(MaxlError, match=message):
        parse_tuning(items, "--tune-single")


def test_a_tuned_comparison_trains_every_method_with_the_chosen_setting(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--dataset", "digits", "--primary-level", "2", "--methods", "single,random"]
    args += ["--seeds", "0,1", "--epochs", "2", "--train-size", "200", "--psi", "2"]
    args += ["--tune-single", "lr=0.01,0.2", "--device", "cpu", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "single-task tuning (validation accuracy, the test set not used):" in printed
    scores = {}
    for lr in ("0.01", "0.2"):
        runs = [json.loads((out / "tune" / f"lr-{lr}" / f"single-seed{s}" / "results.json")
                           .read_text()) for s in (0, 1)]  # fmt: skip
        assert all(r["num_val"] == 20 and r["num_train"] == 180 for r in runs)
        scores[float(lr)] = sum(r["val_accuracy"] for r in runs) / 2
    chosen = max(scores, key=scores.get)
    summary = {row["method"]: row for row in csv.DictReader((out / "summary.csv").open())}
    for method in ("single", "random"):
        for seed in (0, 1):
            results = json.loads((out / f"{method}-seed{seed}" / "results.json").read_text())
            assert results["config"]["lr"] == chosen and results["num_val"] == 0
    single = [json.loads((out / f"single-seed{s}" / "results.json").read_text()) for s in (0, 1)]
    assert float(summary["single"]["mean_accuracy"]) == pytest.approx(
        sum(r["test_accuracy"] for r in single) / 2, abs=1e-6
    )
    random = [json.loads((out / f"random-seed{s}" / "results.json").read_text()) for s in (0, 1)]
    gains = [r["test_accuracy"] - s["test_accuracy"] for r, s in zip(random, single, strict=True)]
    assert float(summary["random"]["mean_gain_over_single"]) == pytest.approx(
        sum(gains) / 2, abs=1e-6
    )
    assert int(summary["random"]["seeds_won_over_single"]) == sum(g > 0 for g in gains)
    tuning_rows = list(csv.DictReader((out / "tuning.csv").open()))
    assert [float(r["lr"]) for r in tuning_rows if r["chosen"] == "1"] == [chosen]
    assert "## Single-task tuning" in (out / "summary.md").read_text()


def tuned_comparison(path, out):
    args = ["compare", "--dataset", f"npz:{path}", "--methods", "single,maxl", "--seeds", "0,1"]
    args += ["--epochs", "2", "--batch-size", "50", "--analysis-size", "0", "--no-progress"]
    args += ["--tune-single", "lr=0.02,0.2", "--tune-maxl", "gen_lr=0.001,0.5"]
    args += ["--threads", "1", "--out", str(out)]
    assert main(args) == 0
    return [(out / name).read_text() for name in ("tuning.csv", "tuning-maxl.csv")]


def test_maxl_is_tuned_on_validation_at_singles_choice_and_never_reads_the_test_set(tmp_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = (x.reshape(-1, 8, 8) * 16).clip(0, 255).astype(np.uint8)
    arrays = dict(x_train=images[:300], y_train=y[:300] // 5, fine_train=y[:300],
                  x_test=images[1500:], y_test=y[1500:] // 5, fine_test=y[1500:])  # fmt: skip
    np.savez(tmp_path / "clean.npz", **arrays)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(arrays["y_test"]))  # test labels no longer fit their images
    arrays["y_test"], arrays["fine_test"] = arrays["y_test"][order], arrays["fine_test"][order]
    arrays["x_test"] = rng.integers(0, 256, arrays["x_test"].shape, dtype=np.uint8)
    np.savez(tmp_path / "corrupt.npz", **arrays)
    clean = tuned_comparison(tmp_path / "clean.npz", tmp_path / "a")
    corrupt = tuned_comparison(tmp_path / "corrupt.npz", tmp_path / "b")
    assert clean == corrupt  # every validation score and every choice unchanged
    tested = [json.loads((tmp_path / run / "maxl-seed0" / "results.json").read_text())
              for run in ("a", "b")]  # fmt: skip
    assert tested[0]["test_accuracy"] != tested[1]["test_accuracy"]  # the corruption is seen
    single = list(csv.DictReader(io.StringIO(clean[0])))
    maxl_rows = list(csv.DictReader(io.StringIO(clean[1])))
    chosen_lr = next(float(r["lr"]) for r in single if r["chosen"] == "1")
    chosen_gen_lr = next(float(r["gen_lr"]) for r in maxl_rows if r["chosen"] == "1")
    scores = {}
    for gen_lr in ("0.001", "0.5"):  # the tuning runs: maxl at single's choice, on validation
        runs = [json.loads((tmp_path / "a" / "tune-maxl" / f"gen_lr-{gen_lr}" / f"maxl-seed{s}"
                            / "results.json").read_text()) for s in (0, 1)]  # fmt: skip
        assert all(r["config"]["lr"] == chosen_lr and r["num_val"] == 30 for r in runs)
        scores[float(gen_lr)] = sum(r["val_accuracy"] for r in runs) / 2
    assert chosen_gen_lr == max(scores, key=scores.get)
    final = json.loads((tmp_path / "a" / "maxl-seed1" / "results.json").read_text())
    assert final["config"]["gen_lr"] == chosen_gen_lr and final["config"]["lr"] == chosen_lr
    assert "## Tuning of maxl" in (tmp_path / "a" / "summary.md").read_text()


def test_seeds_in_a_grid_set_how_many_of_the_comparisons_seeds_it_runs_on(tmp_path, capsys):
    parsed = parse_tuning(["lr=0.1,0.2", "seeds=1"], "--tune-single")
    assert parsed == Tuning({"lr": [0.1, 0.2]}, 0.1, seeds=1)
    assert parsed.seeds_of([4, 7, 9]) == [4] and Tuning({"lr": [0.1]}).seeds_of([4, 7]) == [4, 7]
    assert Tuning({"lr": [0.1]}, seeds=3).seeds_of([5, 1]) == [5, 1]  # no more than there are
    args = ["compare", "--dataset", "digits", "--methods", "single,maxl", "--seeds", "0,1"]
    args += ["--tune-single", "lr=0.1,0.2", "--tune-maxl", "gen_lr=0.001", "seeds=1"]
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    assert "tune_maxl gives seeds" in capsys.readouterr().err


def test_a_method_gets_no_more_tuning_runs_than_single(tmp_path, capsys):
    args = ["compare", "--dataset", "digits", "--methods", "single,maxl", "--seeds", "0"]
    args += ["--tune-single", "lr=0.1,0.2", "--tune-maxl", "gen_lr=0.001,0.01,0.1"]
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    assert "more than single's 2" in capsys.readouterr().err
    args = ["compare", "--dataset", "digits", "--methods", "single,maxl", "--seeds", "0"]
    assert main([*args, "--tune-maxl", "gen_lr=0.001", "--out", str(tmp_path / "y")]) == 2
    assert "needs tune_single" in capsys.readouterr().err


def test_runs_too_short_for_a_late_rise_show_a_dash_not_nan():
    point = TuningPoint({"lr": 0.1}, {0: 0.5}, [0.4, 0.5])  # two epochs: no late rise
    table = tuning_table(TuningResult([point], 0.1))
    assert "nan" not in table and "| 50.00 ± 0.00 | — | 1 | **chosen** |" in table


def test_a_dataset_with_its_own_validation_split_is_tuned_on_it(tmp_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = (x.reshape(-1, 8, 8) * 16).clip(0, 255).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x_train=images[:300], y_train=y[:300] % 2,
             x_val=images[300:360], y_val=y[300:360] % 2, x_test=images[1500:],
             y_test=y[1500:] % 2)  # fmt: skip
    out = tmp_path / "cmp"
    args = ["compare", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--methods", "single"]
    args += ["--seeds", "0", "--epochs", "1", "--tune-single", "lr=0.05,0.2", "--no-progress"]
    assert main([*args, "--analysis-size", "0", "--out", str(out)]) == 0
    tuned = json.loads((out / "tune" / "lr-0.05" / "single-seed0" / "results.json").read_text())
    assert tuned["num_train"] == 300 and tuned["num_val"] == 60  # the file's own split
    assert "the dataset's own validation split" in (out / "summary.md").read_text()


def grid(best: dict, values: dict) -> TuningResult:
    """A grid over `values` (name -> list) whose point `best` scores highest."""
    names = list(values)
    points = []
    for combination in itertools.product(*values.values()):
        settings = dict(zip(names, combination, strict=True))
        score = 0.9 if settings == best else 0.5
        points.append(TuningPoint(settings, {0: score}, [score]))
    return TuningResult(points, 0.2)


@pytest.mark.parametrize(
    ("best", "edges"),
    [
        (
            {"lr": 0.2, "weight_decay": 0.005},
            ["lr 0.2, the largest", "weight_decay 0.005, the largest"],
        ),
        ({"lr": 0.05, "weight_decay": 0.0}, ["lr 0.05, the smallest"]),  # 0: a bound, no edge
        ({"lr": 0.1, "weight_decay": 0.0005}, []),
    ],
)
def test_a_choice_at_the_end_of_an_axis_is_named_as_an_edge(best, edges):
    result = grid(best, {"lr": [0.05, 0.1, 0.2], "weight_decay": [0.0, 0.0005, 0.005]})
    assert [edge.removesuffix(" tried") for edge in grid_edges(result)] == edges
    note = " ".join(tuning_section(result))
    assert ("edge of the grid" in note) == bool(edges)


def test_a_long_validation_curve_is_shown_at_evenly_spread_epochs():
    from maxl.tuning import curve_text

    assert curve_text([0.5, 0.625]) == "epoch by epoch (%): 50.00, 62.50"
    curve = [e / 1000 for e in range(1, 101)]  # epoch e scores e/1000
    assert curve_text(curve, most=5) == (
        "at 5 of its 100 epochs (epoch: %): 1: 0.10, 26: 2.60, 51: 5.10, 75: 7.50, 100: 10.00"
    )
