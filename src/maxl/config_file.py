"""Experiment files (configs/*.yaml): TrainConfig fields plus, for compare, `methods`, `seeds`,
`jobs`, `threads`, `tune_single` (a mapping setting -> values, plus an optional val_fraction),
`tune_METHOD` (the same for another method or a variant, e.g. tune_maxl), `variants` (named
methods with settings of their own, maxl.method_variants) and, for map, `map`.

Values are checked against the fields' types here, so a typo fails with the file, the key and
the fix instead of deep inside a run.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maxl.assembly import METHOD_NAMES
from maxl.config import TrainConfig, convert_field, convert_value
from maxl.errors import MaxlError

TUNING_KEYS = tuple(f"tune_{method}" for method in METHOD_NAMES)  # a variant's: tune_NAME
COMPARE_KEYS = ("methods", "seeds", "jobs", "threads", "map", "variants", *TUNING_KEYS)


def load_experiment(path: Path) -> dict[str, Any]:
    """The file's settings as TrainConfig field values (plus methods, seeds), types checked."""
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as error:
        raise MaxlError(
            f"cannot read --config {path} ({error.strerror or error}); give an existing "
            "YAML file such as configs/fashion-mnist.yaml"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise MaxlError(f"{path} is not valid YAML{line}; fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MaxlError(f"{path} must be a mapping of option: value; fix the file")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    settings: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name.startswith("tune_"):
            name = "tune_" + str(key)[5:]  # a variant's name keeps its dashes
            from maxl.tuning import parse_tuning

            if value is not None and value != "off" and not isinstance(value, dict):
                raise MaxlError(
                    f"{path}: '{name}' must map settings to lists of values, e.g. "
                    f"{name}: {{lr: [0.05, 0.1], momentum: [0.0, 0.9]}} (or off)"
                )
            settings[name] = parse_tuning(value, f"{path}: {name}")
        elif name == "map":
            settings[name] = parse_map(value, str(path))
        elif name == "variants":
            from maxl.method_variants import parse_variants

            settings[name] = parse_variants(value, str(path))
        elif name in ("jobs", "threads"):
            settings[name] = convert_value(value, int, path, name)
        elif name in COMPARE_KEYS:
            settings[name] = _list_of(value, int if name == "seeds" else str, path, name)
        elif name == "seed" and isinstance(value, list):
            raise MaxlError(
                f"{path}: 'seed' is one number; for several write seeds: {value} (maxl compare)"
            )
        elif name in fields:
            settings[name] = convert_field(name, value, path)
        else:
            raise MaxlError(
                f"{path}: unknown key '{key}'; {suggestion(name, [*fields, *COMPARE_KEYS])}"
            )
    return settings


ALIASES = {"learning_rate": "lr", "weight_decay_rate": "weight_decay", "seed_list": "seeds"}


def suggestion(name: str, known: list[str]) -> str:
    """'did you mean lr?' for a near miss, else the list of keys."""
    close = [ALIASES[name]] if name in ALIASES else difflib.get_close_matches(name, known, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "the keys are " + ", ".join(known)


def _list_of(value: Any, kind: type, path: Path, key: str) -> list[Any]:
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        return [kind(str(item).strip()) for item in items]
    except ValueError:
        raise MaxlError(f"{path}: '{key}' must be a list of {kind.__name__}s") from None


@dataclass(frozen=True)
class MapPlan:
    """The training-set sizes of the map, the epochs each trains for and the seeds each size's
    tunings run on (empty: the tuning's own)."""

    sizes: tuple[int, ...]
    epochs: tuple[int, ...]
    tune_seeds: tuple[int, ...] = ()


def parse_map(value: Any, where: str) -> MapPlan:
    """{'train_size': [250, 500], 'epochs': [120, 80], 'tune_seeds': [3, 1]} (epochs and
    tune_seeds: one per size, or one for all)."""
    if not isinstance(value, dict) or "train_size" not in value:
        raise MaxlError(
            f"{where}: 'map' must give train_size (a list of sizes) and epochs, e.g. "
            "map: {train_size: [250, 500, 1000], epochs: [120, 80, 60]}"
        )
    unknown = set(value) - {"train_size", "epochs", "tune_seeds"}
    if unknown:
        raise MaxlError(
            f"{where}: map has unknown key(s) {sorted(unknown)}; use train_size, epochs, tune_seeds"
        )
    sizes = whole_numbers(value["train_size"], f"{where}: map train_size")
    per_size = {}
    for key in ("epochs", "tune_seeds"):
        numbers = whole_numbers(value.get(key, []), f"{where}: map {key}")
        if len(numbers) == 1:
            numbers = numbers * len(sizes)
        if numbers and len(numbers) != len(sizes):
            raise MaxlError(
                f"{where}: map has {len(sizes)} train_size value(s) but {len(numbers)} {key}; "
                f"give one {key} value per size, or one for all"
            )
        per_size[key] = tuple(numbers)
    return MapPlan(tuple(sizes), per_size["epochs"], per_size["tune_seeds"])


def whole_numbers(value: Any, where: str) -> list[int]:
    items = value if isinstance(value, list) else [value]
    try:
        numbers = [int(item) for item in items]
        exact = all(
            not isinstance(i, bool) and float(i) == n for i, n in zip(items, numbers, strict=True)
        )
    except (TypeError, ValueError):
        exact = False
    if not exact:
        raise MaxlError(f"{where}: {value!r} is not a list of whole numbers") from None
    if any(n < 1 for n in numbers) or (not numbers and where.endswith("train_size")):
        raise MaxlError(f"{where}: {value!r} must be whole numbers of at least 1")
    return numbers
