"""Experiment files: types coerced to the TrainConfig fields, clear errors, shipped configs load."""

from pathlib import Path

import pytest

from maxl import MaxlError
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
        ("epochz: 3\n", "unknown key 'epochz'"),
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
    config = TrainConfig(**settings)
    if path.stem.startswith("fashion-mnist"):  # the fair protocol: single tuned first
        assert tuning is not None and {"lr", "momentum"} <= set(tuning.grid)
    assert set(methods) <= {"single", "random", "kmeans", "human", "maxl"} and len(seeds) >= 3
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
