"""Variants: a method run under settings of its own, reported as a row of its own.

A comparison or map file names them, e.g.

    variants:
      maxl-adam: {method: maxl, gen_optimizer: adam, gen_lr: 0.001}
    methods: [single, random, maxl, maxl-adam]
    tune_maxl-adam: {gen_lr: [0.0003, 0.001]}

Every row trains on the same seeds, images and tuned single setting as the others, so a
variant's gain over single or over the plain method is paired like any method's. A variant runs
into OUT/NAME-seedS and is tuned (tune_NAME) like a method, on the same validation split with no
more runs than single had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from maxl.assembly import METHOD_NAMES
from maxl.config import NOT_VARIED, convert_field
from maxl.errors import MaxlError

# What every row of a comparison shares: changing these would unpair the rows.
SHARED = (*NOT_VARIED, "train_size", "epochs", "eval_every", "val_fraction")
VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.]*(-[a-z0-9_.]+)*$")


@dataclass(frozen=True)
class Variant:
    """The row NAME: `method` trained with `settings` on top of the comparison's own."""

    name: str
    method: str
    settings: dict[str, Any]


def parse_variants(value: Any, where: str) -> dict[str, Variant]:
    """{'maxl-adam': {'method': 'maxl', 'gen_optimizer': 'adam'}, ...} -> Variants, each
    setting typed like TrainConfig's field; None -> no variants."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MaxlError(
            f"{where}: 'variants' must map names to settings, e.g. variants: "
            "{maxl-adam: {method: maxl, gen_optimizer: adam}}"
        )
    return {str(name): parse_variant(str(name), spec, where) for name, spec in value.items()}


def parse_variant(name: str, spec: Any, where: str) -> Variant:
    """One entry of `variants`: its name, its base method and its own settings."""
    here = f"{where}: variant {name!r}"
    if name in METHOD_NAMES or not VARIANT_NAME.match(name) or "-seed" in name:
        raise MaxlError(
            f"{here}: a variant needs a name of its own, in lower-case letters, digits and "
            f"dashes, that is not a method ({', '.join(METHOD_NAMES)}) and holds no '-seed'; "
            "e.g. maxl-adam"
        )
    if not isinstance(spec, dict) or "method" not in spec:
        raise MaxlError(
            f"{here}: give its method and settings, e.g. {{method: maxl, gen_lr: 0.01}}"
        )
    method = str(spec["method"])
    if method not in METHOD_NAMES:
        raise MaxlError(f"{here}: unknown method {method!r}; use one of {', '.join(METHOD_NAMES)}")
    settings = {}
    for key, raw in spec.items():
        key = str(key).replace("-", "_")
        if key == "method":
            continue
        if key in SHARED:
            raise MaxlError(
                f"{here}: '{key}' is shared by every row of a comparison (the rows are paired); "
                "set it for the whole file instead"
            )
        settings[key] = convert_field(key, raw, here)
    if not settings:
        raise MaxlError(f"{here}: it changes no setting of {method}; give at least one")
    return Variant(name, method, settings)


def resolve_rows(methods: list[str], variants: dict[str, Variant]) -> dict[str, Variant]:
    """Every row of a comparison as a Variant (a plain method is one with no settings of its
    own); a variant the file defines but `methods` does not name is not run."""
    unknown = [m for m in methods if m not in METHOD_NAMES and m not in variants]
    if unknown or not methods:
        known = [*METHOD_NAMES, *variants]
        raise MaxlError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; --methods takes a "
            f"comma-separated list of {', '.join(known)}"
            + ("" if variants else " (or of the variants a --config file defines)")
        )
    return {m: variants.get(m, Variant(m, m, {})) for m in dict.fromkeys(methods)}
