"""`maxl compare` end to end on .npz data the test builds, checked against the runs' own files."""

import csv
import json

import numpy as np
import pytest

from maxl.cli import main

FAST = ["--epochs", "1", "--batch-size", "20", "--kmeans-epochs", "1", "--no-progress"]


def read_summary(out):
    with (out / "summary.csv").open() as handle:
        return {row["method"]: row for row in csv.DictReader(handle)}


def test_summary_holds_mean_and_std_of_the_runs_accuracies(tmp_path, npz_with_fine_labels, capsys):
    out = tmp_path / "cmp"
    methods = ["single", "random", "kmeans", "human", "maxl"]
    argv = ["compare", "--dataset", f"npz:{npz_with_fine_labels}", *FAST, "--out", str(out)]
    assert main([*argv, "--methods", ",".join(methods), "--seeds", "0,1"]) == 0
    rows = read_summary(out)
    assert list(rows) == methods
    for method in methods:
        runs = [
            json.loads((out / f"{method}-seed{s}" / "results.json").read_text()) for s in (0, 1)
        ]
        accuracies = [r["test_accuracy"] for r in runs]
        assert [r["seed"] for r in runs] == [0, 1] and {r["method"] for r in runs} == {method}
        row = rows[method]
        assert int(row["runs"]) == 2
        assert float(row["mean_accuracy"]) == pytest.approx(np.mean(accuracies), abs=1e-6)
        assert float(row["std_accuracy"]) == pytest.approx(np.std(accuracies, ddof=1), abs=1e-6)
        single = [
            json.loads((out / f"single-seed{s}" / "results.json").read_text())["test_accuracy"]
            for s in (0, 1)
        ]
        gains = [a - b for a, b in zip(accuracies, single, strict=True)]
        assert float(row["mean_gain_over_single"]) == pytest.approx(np.mean(gains), abs=1e-6)
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| maxl |" in (out / "summary.md").read_text()
    printed = capsys.readouterr().out
    assert "| method | test accuracy (%)" in printed and str(out / "comparison.png") in printed


def test_human_is_skipped_with_a_note_where_there_are_no_finer_labels(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--dataset", "digits", "--train-size", "100", *FAST, "--out", str(out)]
    assert main([*argv, "--methods", "single,human", "--seeds", "0"]) == 0
    assert list(read_summary(out)) == ["single"]
    assert "human skipped" in capsys.readouterr().out
    assert "human skipped" in (out / "summary.md").read_text()


def test_finished_runs_are_reused_and_options_override_the_config_file(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text("dataset: digits\ntrain_size: 80\nepochs: 3\nmethods: [single]\nseeds: [4]\n")
    out = tmp_path / "cmp"
    argv = ["compare", "--config", str(config), "--epochs", "1", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    results = out / "single-seed4" / "results.json"
    first = json.loads(results.read_text())
    assert first["epochs"] == 1 and first["num_train"] == 80 and first["seed"] == 4
    stamp = results.stat().st_mtime_ns
    assert main(argv) == 0
    assert results.stat().st_mtime_ns == stamp
    assert "reusing" in capsys.readouterr().out


def test_sample_std_is_zero_for_one_run(tmp_path):
    out = tmp_path / "cmp"
    argv = ["compare", "--dataset", "digits", "--train-size", "60", *FAST, "--out", str(out)]
    assert main([*argv, "--methods", "single", "--seeds", "0"]) == 0
    assert float(read_summary(out)["single"]["std_accuracy"]) == 0.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "single,magic"], "unknown method(s) magic"),
        (["--seeds", "0,x"], "not a list of whole numbers"),
        (["--config", "missing.yaml"], "cannot read --config missing.yaml"),
    ],
)
def test_bad_compare_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    argv = ["compare", "--dataset", "digits", *FAST, "--out", str(tmp_path / "c"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_longer_comparison_continues_each_run_from_its_checkpoint(tmp_path, capsys):
    argv = ["compare", "--dataset", "digits", "--train-size", "60", *FAST, "--methods", "single"]
    out, fresh = tmp_path / "cmp", tmp_path / "fresh"
    assert main([*argv, "--seeds", "0", "--out", str(out)]) == 0
    assert main([*argv, "--seeds", "0", "--epochs", "2", "--out", str(out)]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert main([*argv, "--seeds", "0", "--epochs", "2", "--out", str(fresh)]) == 0
    extended = json.loads((out / "single-seed0" / "results.json").read_text())
    direct = json.loads((fresh / "single-seed0" / "results.json").read_text())
    assert extended["epochs"] == 2
    assert extended["test_accuracy"] == direct["test_accuracy"]
    assert extended["final_train_loss"] == direct["final_train_loss"]


def test_a_run_saved_before_newer_settings_existed_is_still_reused():
    """A results.json without image_size (added later, no effect on such a run) matches; one
    without schedule (which changed what a run computes) does not."""
    from maxl.compare import comparable
    from maxl.config import TrainConfig

    now = TrainConfig(dataset="digits").to_json()
    older = {k: v for k, v in now.items() if k not in ("image_size", "tensorboard")}
    assert comparable(older) == comparable(now)
    before_schedules = {k: v for k, v in now.items() if k != "schedule"}
    assert comparable(before_schedules) != comparable(now)


def write_variant_config(path, npz, extra="", settings="gen_lr: 0.5"):
    path.write_text(
        f"dataset: npz:{npz}\nepochs: 1\nbatch_size: 20\nmethods: [single, maxl, maxl-fast]\n"
        f"seeds: [0]\nvariants:\n  maxl-fast: {{method: maxl, {settings}}}\n" + extra
    )


def test_a_variant_row_is_the_run_its_settings_give(tmp_path, npz_with_fine_labels, capsys):
    config, out, direct = tmp_path / "exp.yaml", tmp_path / "cmp", tmp_path / "direct"
    write_variant_config(config, npz_with_fine_labels)
    assert main(["compare", "--config", str(config), "--no-progress", "--out", str(out)]) == 0
    argv = ["train", "--dataset", f"npz:{npz_with_fine_labels}", "--method", "maxl"]
    argv += ["--epochs", "1", "--batch-size", "20", "--gen-lr", "0.5", "--no-progress"]
    assert main([*argv, "--seed", "0", "--out", str(direct)]) == 0
    rows = read_summary(out)
    assert list(rows) == ["single", "maxl", "maxl-fast"]
    variant = json.loads((out / "maxl-fast-seed0" / "results.json").read_text())
    alone = json.loads((direct / "results.json").read_text())
    plain = json.loads((out / "maxl-seed0" / "results.json").read_text())
    assert variant["method"] == "maxl" and variant["config"]["gen_lr"] == 0.5
    assert plain["config"]["gen_lr"] == 0.001
    assert float(rows["maxl-fast"]["accuracies"]) == pytest.approx(alone["test_accuracy"])
    labels = {
        name: np.load(folder / "aux_labels.npz")["confidence"]
        for name, folder in [("variant", out / "maxl-fast-seed0"), ("alone", direct)]
    }
    labels["plain"] = np.load(out / "maxl-seed0" / "aux_labels.npz")["confidence"]
    np.testing.assert_array_equal(labels["variant"], labels["alone"])
    assert not np.array_equal(labels["variant"], labels["plain"])
    gain = 100 * (variant["test_accuracy"] - plain["test_accuracy"])
    line = f"- maxl-fast: maxl with gen_lr 0.5; − maxl: {gain:+.2f} ± 0.00 ("
    assert line in (out / "summary.md").read_text()
    assert main(["show", str(out)]) == 0
    assert "maxl-fast" in (out / "report.md").read_text()


def test_a_variant_is_tuned_with_its_own_settings_on_the_validation_split(
    tmp_path, npz_with_fine_labels
):
    config, out = tmp_path / "exp.yaml", tmp_path / "cmp"
    extra = "tune_single: {lr: [0.05, 0.1]}\ntune_maxl-fast: {entropy_weight: [0.0, 0.2]}\n"
    write_variant_config(config, npz_with_fine_labels, extra, "gen_lr: 0.5, entropy_weight: 0.1")
    assert main(["compare", "--config", str(config), "--no-progress", "--out", str(out)]) == 0
    scores = {}
    for weight in (0.0, 0.2):
        tuned = out / "tune-maxl-fast" / f"entropy_weight-{weight}" / "maxl-seed0"
        results = json.loads((tuned / "results.json").read_text())
        assert results["config"]["gen_lr"] == 0.5 and results["config"]["val_fraction"] > 0
        scores[weight] = results["val_accuracy"]
    chosen = max(scores, key=lambda weight: (scores[weight], -weight))  # the first of equals
    final = json.loads((out / "maxl-fast-seed0" / "results.json").read_text())["config"]
    assert final["entropy_weight"] == chosen and final["gen_lr"] == 0.5
    assert (out / "tuning-maxl-fast.csv").is_file()
    plain = json.loads((out / "maxl-seed0" / "results.json").read_text())["config"]
    assert plain["entropy_weight"] == 0.2 and plain["gen_lr"] == 0.001
