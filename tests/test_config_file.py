"""Experiment files: types coerced to the TrainConfig fields, clear errors, shipped configs load."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from maxl import MaxlError
from maxl.cli import main
from maxl.config import TrainConfig
from maxl.config_file import load_experiment

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_values_take_the_fields_types(tmp_path):
    path = write(
        tmp_path,
        "primary-level: 20\npsi: [3, 1]\ndata_dir: /data\nlr: 1e-2\naugment: false\n"
        "epochs: 4\nseeds: 0,2\nmethods: [single, maxl]\n",
    )
    settings = load_experiment(path)
    assert settings == {
        "primary_level": "20",
        "psi": (3, 1),
        "data_dir": Path("/data"),
        "lr": 0.01,
        "augment": False,
        "epochs": 4,
        "seeds": [0, 2],
        "methods": ["single", "maxl"],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochz: 3\n", "unknown key 'epochz'; did you mean 'epochs'?"),
        ("learning_rate: 0.1\n", "unknown key 'learning_rate'; did you mean 'lr'?"),
        ("seed: [0, 1]\n", "'seed' is one number; for several write seeds: [0, 1]"),
        ("epochs: 2.5\n", "'epochs' is 2.5, which is not a int"),
        ("augment: maybe\n", "'augment' is 'maybe', which is not a bool"),
        ("seeds: [a]\n", "'seeds' must be a list of ints"),
        ("epochs: [1\n", "is not valid YAML at line"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("epochs:\n", "'epochs' needs a value"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, text, message):
    with pytest.raises(MaxlError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_experiment(write(tmp_path, text))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load_into_a_train_config(path):
    settings = load_experiment(path)
    methods, seeds = settings.pop("methods"), settings.pop("seeds")
    tuning = settings.pop("tune_single", None)
    maxl_tuning = settings.pop("tune_maxl", None)
    plan = settings.pop("map", None)
    variants = settings.pop("variants", {})
    variant_tunings = [
        settings.pop(f"tune_{name}") for name in variants if f"tune_{name}" in settings
    ]
    settings.pop("jobs", None), settings.pop("threads", None)
    config = TrainConfig(**settings)
    if path.stem.startswith(("map-", "protocol")):  # every method tuned alike, single's rule too
        assert {"lr", "weight_decay"} <= set(tuning.grid) and "gen_lr" in maxl_tuning.grid
        for grid in [maxl_tuning, *variant_tunings]:
            assert "gen_lr" in grid.grid and len(grid.points()) <= len(tuning.points())
    if path.stem.startswith("map-") and not path.stem.endswith("-variants"):  # a map: 5+ sizes
        assert len(plan.sizes) >= 5 and len(plan.epochs) == len(plan.sizes)
    if path.stem == "protocol":  # runs on any dataset: none of the task's keys
        assert not {"dataset", "primary_level", "aux_level", "psi"} & set(
            yaml.safe_load(path.read_text())
        )
    if path.stem.startswith("fashion-mnist"):  # the fair protocol: single tuned first
        assert tuning is not None and "lr" in tuning.grid
        assert {"momentum", "weight_decay"} & set(tuning.grid)  # and momentum or regularisation
    assert set(methods) <= {"single", "random", "kmeans", "human", "maxl", *variants}
    assert len(seeds) >= 3
    if config.dataset == "cifar100":
        assert (config.primary_level, config.aux_level) in {
            ("3", "10"), ("3", "20"), ("3", "100"), ("10", "20"), ("10", "100"), ("20", "100")
        }  # fmt: skip
        assert (config.backbone, config.epochs, config.lr, config.lr_step) == (
            "vgg16",
            200,
            0.01,
            50,
        )


def test_there_is_a_config_per_paper_experiment():
    names = {p.stem for p in CONFIGS}
    cifar100 = {
        f"cifar100-{p}-{a}" for p, a in [(3, 10), (3, 20), (3, 100), (10, 20), (10, 100), (20, 100)]
    }
    assert cifar100 | {"cifar10", "svhn", "mnist", "cinic10", "fashion-mnist"} <= names


@pytest.mark.parametrize("name", ["fashion-mnist", "fashion-mnist-maxl-best", "protocol"])
def test_the_fair_configs_run_on_other_data_without_their_dataset_keys(tmp_path, name):
    """As an outside check does: the file without dataset, primary_level, aux_level, psi and
    train_size, on an .npz nobody tuned on; summary.csv's single row is the tuned single."""
    settings = yaml.safe_load((CONFIGS[0].parent / f"{name}.yaml").read_text())
    for key in ("dataset", "primary_level", "aux_level", "psi", "train_size"):
        settings.pop(key, None)
    assert "tune_single" in settings
    copy = tmp_path / "copy.yaml"
    copy.write_text(yaml.safe_dump(settings))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "d.npz", x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    out = tmp_path / "out"
    args = ["compare", "--config", str(copy), "--dataset", f"npz:{tmp_path / 'd.npz'}"]
    args += ["--methods", "single,random,maxl", "--seeds", "0", "--epochs", "1", "--out", str(out)]
    args += ["--analysis-size", "0", "--no-progress"]  # the file's own tune_single grid
    assert main(args) == 0
    rows = {row["method"]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert set(rows) == {"single", "random", "maxl"}
    [chosen] = [r for r in csv.DictReader((out / "tuning.csv").open()) if r["chosen"] == "1"]
    single = json.loads((out / "single-seed0" / "results.json").read_text())
    assert single["config"]["lr"] == float(chosen["lr"])  # trained at the tuned value
    assert float(rows["single"]["mean_accuracy"]) == pytest.approx(single["test_accuracy"])


def test_a_variant_and_its_tuning_keep_the_variant_s_name(tmp_path):
    text = (
        "variants:\n  maxl-adam: {method: maxl, gen-optimizer: adam}\n"
        "tune_maxl-adam: {gen_lr: [0.001, 0.01]}\n"
    )
    settings = load_experiment(write(tmp_path, text))
    assert settings["variants"]["maxl-adam"].settings == {"gen_optimizer": "adam"}
    assert settings["tune_maxl-adam"].grid == {"gen_lr": [0.001, 0.01]}
