"""Variants: parsing the `variants:` key and resolving a comparison's rows."""

import pytest

from maxl.errors import MaxlError
from maxl.method_variants import Variant, parse_variants, resolve_rows


def test_a_variant_is_its_method_with_typed_settings():
    spec = {"maxl-adam": {"method": "maxl", "gen_optimizer": "adam", "gen-lr": "1e-3"}}
    (variant,) = parse_variants(spec, "exp.yaml").values()
    assert variant == Variant("maxl-adam", "maxl", {"gen_optimizer": "adam", "gen_lr": 0.001})
    assert isinstance(variant.settings["gen_lr"], float)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"maxl": {"method": "maxl", "gen_lr": 0.01}}, "a name of its own"),
        ({"maxl-seed1": {"method": "maxl", "gen_lr": 0.01}}, "a name of its own"),
        ({"Maxl Fast": {"method": "maxl", "gen_lr": 0.01}}, "a name of its own"),
        ({"fast": {"gen_lr": 0.01}}, "give its method and settings"),
        ({"fast": {"method": "magic", "gen_lr": 0.01}}, "unknown method 'magic'"),
        ({"fast": {"method": "maxl"}}, "changes no setting"),
        ({"fast": {"method": "maxl", "epochs": 5}}, "'epochs' is shared by every row"),
        ({"fast": {"method": "maxl", "seed": 5}}, "'seed' is shared by every row"),
        ({"fast": {"method": "maxl", "gen_lrr": 0.1}}, "unknown setting 'gen_lrr'"),
        ({"fast": {"method": "maxl", "gen_lr": "fast"}}, "gen_lr"),
        (["maxl-adam"], "'variants' must map names to settings"),
    ],
)
def test_a_bad_variant_names_the_problem(spec, message):
    with pytest.raises(MaxlError, match=message.replace("(", r"\(")) as error:
        parse_variants(spec, "exp.yaml")
    assert str(error.value).startswith("exp.yaml")


def test_rows_are_the_methods_named_with_their_variants_and_no_other():
    fast = Variant("maxl-fast", "maxl", {"gen_lr": 0.1})
    unused = Variant("maxl-adam", "maxl", {"gen_optimizer": "adam"})
    rows = resolve_rows(
        ["single", "maxl-fast", "maxl", "single"], {"maxl-fast": fast, "maxl-adam": unused}
    )
    assert rows == {
        "single": Variant("single", "single", {}),
        "maxl-fast": fast,
        "maxl": Variant("maxl", "maxl", {}),
    }
    with pytest.raises(MaxlError, match=r"unknown method\(s\) maxl-slow;.*maxl-fast"):
        resolve_rows(["single", "maxl-slow"], {"maxl-fast": fast})
