"""`MetaSettings`: the settings of MAXL's meta objective and of its hypergradient, one frozen
object checked once, so that `generator_hypergradient`, `MetaLabeler` and `maxl train` cannot
disagree on them (DESIGN §1)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from maxl.errors import MaxlError

HYPERGRADIENT_NAMES = ("exact", "finite-difference", "implicit")  # maxl.hypergrad: their methods
WEIGHTS = ("entropy_weight", "confidence_weight", "aux_weight", "focal_gamma")


@dataclass(frozen=True)
class MetaSettings:
    """L_meta's weights (λ, λ_c), the training loss it differentiates (w_aux, γ), the
    hypergradient method, its Neumann terms J (implicit) and the meta depth K (None: all
    blocks). Each keyword is the `maxl train` option of the same name."""

    hypergrad: str = "exact"
    entropy_weight: float = 0.2
    confidence_weight: float = 0.0
    aux_weight: float = 1.0
    focal_gamma: float = 2.0
    neumann_terms: int = 3
    meta_depth: int | None = None

    def __post_init__(self) -> None:
        if self.hypergrad not in HYPERGRADIENT_NAMES:
            raise MaxlError(
                f"unknown hypergradient method {self.hypergrad!r} (--hypergrad); choose one of "
                + ", ".join(HYPERGRADIENT_NAMES)
            )
        for name in WEIGHTS:
            object.__setattr__(self, name, non_negative(name, getattr(self, name)))
        terms = self.neumann_terms
        if isinstance(terms, bool) or not isinstance(terms, int) or terms < 0:
            raise MaxlError(
                "--neumann-terms must be 0 or more Hessian-vector products, a whole number "
                f"(neumann_terms={terms!r})"
            )
        depth = self.meta_depth
        if depth is not None and (
            isinstance(depth, bool) or not isinstance(depth, int) or depth < 1
        ):
            raise MaxlError(
                f"--meta-depth {depth} is not a number of blocks; give 1 or more (1: the top "
                "block only), or leave it out for all blocks (meta_depth must be a number of "
                f"blocks >= 1 or None, got {depth!r})"
            )


def non_negative(name: str, value: object) -> float:
    """A weight as a float, 0 or more and finite."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (number >= 0 and math.isfinite(number)):
        raise MaxlError(
            f"--{name.replace('_', '-')} {value} must be a number of 0 or more ({name}=)"
        )
    return number


def settings_with(
    settings: MetaSettings | None, loose: dict[str, object], method_name: str = "hypergrad"
) -> MetaSettings:
    """`settings` (default: MetaSettings()) with each of the loose keywords of
    `generator_hypergradient` or `MetaLabeler` (their `locals()`) that is given (not None) in
    place of its field; `method_name` is the keyword that names the field `hypergrad`."""
    keyword = {field.name: field.name for field in dataclasses.fields(MetaSettings)}
    keyword["hypergrad"] = method_name
    given = {name: loose[key] for name, key in keyword.items() if loose[key] is not None}
    return dataclasses.replace(settings or MetaSettings(), **given)  # type: ignore[arg-type]
