"""The public surface of `maxl`, pinned: adding or removing a public name is a deliberate
change to this list, not a side effect of a refactoring."""

import maxl

PUBLIC_NAMES = [
    "AuxiliaryLabels",
    "Callback",
    "FitResult",
    "FitState",
    "Hierarchy",
    "LabelGenerator",
    "MaxlError",
    "MetaLabeler",
    "MetaSettings",
    "MultiTaskNet",
    "TrainedModel",
    "entropy_regulariser",
    "fit",
    "focal_loss",
    "generator_hypergradient",
    "hierarchy_from_labels",
    "load",
    "mask_softmax",
]


def test_the_pinned_list_is_sorted_and_unique() -> None:
    assert sorted(set(PUBLIC_NAMES)) == PUBLIC_NAMES


def test_all_is_the_pinned_list() -> None:
    assert maxl.__all__ == PUBLIC_NAMES


def test_every_public_name_is_importable_and_documented() -> None:
    for name in PUBLIC_NAMES:
        obj = getattr(maxl, name)
        doc = obj.__doc__  # its own: inspect.getdoc would fall back on a base class's
        assert doc and doc.strip(), f"maxl.{name} has no docstring"
        # a dataclass without a docstring gets its signature as one: not documentation
        assert not doc.startswith(f"{name}("), f"maxl.{name} has only a generated docstring"


def test_star_import_yields_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from maxl import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == PUBLIC_NAMES
