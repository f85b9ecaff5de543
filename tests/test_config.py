"""Every TrainConfig field is checked in one place: a value out of its range or of the wrong
type ends `maxl train` with exit 2 and one line (no traceback), and `maxl.fit` with one
maxl.MaxlError. The fields are read from TrainConfig itself, so a field added later is
covered without a new test."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import maxl
from maxl.api import NOT_OPTIONS
from maxl.cli import main
from maxl.config import TrainConfig, convert_field

HINTS = typing.get_type_hints(TrainConfig)
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


def kind(name: str) -> type:
    """The field's type without None (ψ's tuple as tuple)."""
    hint = HINTS[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


NUMBERS = [n for n in FIELDS if kind(n) in (int, float, tuple)]
TEXTS = [n for n in FIELDS if kind(n) is str]
UNCHECKED = [n for n in FIELDS if kind(n) in (bool, Path)]  # flags and folders


def test_every_field_is_covered_by_one_of_the_properties():
    assert sorted(NUMBERS + TEXTS + UNCHECKED) == sorted(FIELDS)
    assert {"lr", "momentum", "weight_decay", "psi", "val_fraction", "train_size"} <= set(NUMBERS)


def negative(name: str) -> st.SearchStrategy[str]:
    if kind(name) is float:
        return st.floats(max_value=-1e-6, min_value=-1e6).map(repr)
    return st.integers(max_value=-1, min_value=-(10**6)).map(str)


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (args, captured.out[-300:], captured.err[-300:])
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in captured.err, lines
    return lines[0]


FAST = settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("name", NUMBERS)
@FAST
@given(data=st.data())
def test_a_negative_number_is_one_line_and_exit_2(name, data, capsys, tmp_path):
    value = data.draw(negative(name))
    flag = "--" + name.replace("_", "-")
    args = ["train", "--dataset", "digits", f"{flag}={value}", "--out", str(tmp_path / "r")]
    one_line_error(args, capsys)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", NUMBERS + TEXTS)
@FAST
@given(text=st.text(alphabet="abcxyz_!", min_size=1, max_size=8))
def test_a_wrong_word_is_one_line_and_exit_2(name, text, capsys, tmp_path):
    flag = "--" + name.replace("_", "-")
    args = ["train", "--dataset", "digits", "--epochs", "1", f"{flag}={text}"]
    one_line_error([*args, "--out", str(tmp_path / "r")], capsys)


TINY = (torch.zeros(8, 1, 8, 8, dtype=torch.uint8), torch.arange(8) % 2)
API_NUMBERS = [n for n in NUMBERS if n not in NOT_OPTIONS]
API_TEXTS = [n for n in TEXTS if n not in NOT_OPTIONS and n not in ("progress",)]


@pytest.mark.parametrize("name", API_NUMBERS)
@FAST
@given(data=st.data())
def test_fit_refuses_a_negative_number_with_a_maxl_error(name, data, tmp_path):
    value = float(data.draw(negative(name)))
    value = int(value) if kind(name) is int else value
    with pytest.raises(maxl.MaxlError) as refused:
        maxl.fit(torch.nn.Flatten(), train=TINY, test=TINY, progress=False,
                 out=tmp_path / "r", **{name: value})  # fmt: skip
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("name", API_NUMBERS + API_TEXTS)
@FAST
@given(text=st.text(alphabet="abcxyz_!", min_size=1, max_size=8))
def test_fit_refuses_a_wrong_word_with_a_maxl_error(name, text, tmp_path):
    with pytest.raises(maxl.MaxlError) as refused:
        maxl.fit(torch.nn.Flatten(), train=TINY, test=TINY, progress=False,
                 out=tmp_path / "r", **{"epochs": 1, name: text})  # fmt: skip
    assert "\n" not in str(refused.value)


def test_from_mapping_types_each_value_like_its_field():
    config = TrainConfig.from_mapping(
        {"epochs": "7", "lr": "1e-2", "augment": False, "psi": [3, "1", 2], "out": "runs/x",
         "train_size": 40.0, "primary_level": 20, "crop_pad": None, "data_dir": Path("/d")},
        "exp.yaml",
    )  # fmt: skip
    assert config.epochs == 7 and type(config.epochs) is int
    assert config.lr == 0.01 and type(config.lr) is float
    assert config.augment is False
    assert config.psi == (3, 1, 2) and all(type(n) is int for n in config.psi)
    assert config.out == Path("runs/x") and isinstance(config.out, Path)
    assert config.train_size == 40 and type(config.train_size) is int
    assert config.primary_level == "20"  # a level is named by its class count
    assert config.crop_pad is None and config.data_dir == Path("/d")
    assert config.seed == 0 and config.method == "maxl"  # keys not given keep their defaults


def test_from_mapping_keeps_typed_values_as_they_are():
    given = TrainConfig(epochs=3, lr=0.05, psi=(2, 2), augment=False, out=Path("o"), seed=4)
    again = TrainConfig.from_mapping(dataclasses.asdict(given), "the command line")
    assert again == given


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochz": 3}, "exp.yaml: unknown setting 'epochz'"),
        ({"epochs": 2.5}, "exp.yaml: 'epochs' is 2.5, which is not a int; fix the value"),
        ({"epochs": True}, "exp.yaml: 'epochs' is True, which is not a int"),
        ({"lr": "fast"}, "exp.yaml: 'lr' is 'fast', which is not a float"),
        ({"augment": "yes"}, "exp.yaml: 'augment' is 'yes', which is not a bool"),
        ({"psi": [3, "x"]}, "exp.yaml: 'psi' is [3, 'x'], which is not a tuple"),
        ({"epochs": None}, "exp.yaml: 'epochs' needs a value"),
    ],
)
def test_from_mapping_names_the_bad_key_and_where_it_came_from(values, message):
    with pytest.raises(maxl.MaxlError) as refused:
        TrainConfig.from_mapping(values, "exp.yaml")
    assert str(refused.value).startswith(message), str(refused.value)
    assert "\n" not in str(refused.value)


def test_convert_field_types_one_grid_value():
    assert convert_field("momentum", "0.9", "--tune-single") == 0.9
    assert convert_field("psi", 5, "--vary") == (5,)
    with pytest.raises(maxl.MaxlError, match="--vary: unknown setting 'lrr'"):
        convert_field("lrr", 1, "--vary")


def test_a_run_checks_its_config_once(monkeypatch, tmp_path):
    import maxl.assembly.run as assembly_run

    checked = []
    check = assembly_run.check_config
    monkeypatch.setattr(assembly_run, "check_config", lambda c: (checked.append(c), check(c)))
    maxl.fit(torch.nn.Flatten(), train=TINY, test=TINY, method="single", epochs=1,
             analysis_size=0, progress=False, out=tmp_path / "r")  # fmt: skip
    assert len(checked) == 1
