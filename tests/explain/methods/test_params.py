"""One strict parser of method params, used by every registered method."""
import dataclasses
import re
import typing

import pytest
from django.core.management import CommandError

from explain.management.commands.explain import parse_method_params
from explain.methods import available_methods, get_method, register
from explain.methods.base import ExplanationMethod, MethodInput
from explain.methods.params import ParamError, parse_params

EVERY_METHOD = available_methods()


@dataclasses.dataclass
class Knobs:
    count: int = 3
    rate: float = 0.5
    enabled: bool = False
    label: str = "x"
    limit: int | None = None
    words: tuple[str, ...] = ("a", "b")
    size: tuple[int, int] = (8, 8)
    loose: tuple = ()


def as_typed_on_the_command_line(value) -> str:
    """How a user writes `value` after METHOD.NAME= on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def test_the_registry_lists_every_method_its_modules_register():
    assert {"netdissect", "clip-dissect", "clip-dissect-annotations", "shuffled-control", "gpt-caption-activation",
            "gpt-weight-label", "gpt-weight-clip", "occlusion-vocabulary", "dnd", "dnd-without-step3"} <= set(EVERY_METHOD)
    for name in EVERY_METHOD:
        assert get_method(name).name == name


def test_a_method_registered_later_is_listed_and_found():
    @dataclasses.dataclass
    class Nothing:
        pass

    class Late(ExplanationMethod):
        name = "test-late"
        params_class = Nothing

        def explain(self, inputs, units):
            return []

    register(Late)
    try:
        assert "test-late" in available_methods() and isinstance(get_method("test-late"), Late)
    finally:
        from explain import methods

        methods._REGISTRY.pop("test-late")
    with pytest.raises(KeyError, match="unknown method 'test-late'; available: .*netdissect"):
        get_method("test-late")


@pytest.mark.parametrize("name", EVERY_METHOD)
def test_every_default_typed_on_the_command_line_parses_back_to_itself(name):
    method = get_method(name)
    defaults = method.parse_params({})
    assert dataclasses.is_dataclass(defaults) and isinstance(defaults, method.params_class)
    typed = [f"{name}.{field.name}={as_typed_on_the_command_line(getattr(defaults, field.name))}"
             for field in dataclasses.fields(defaults)]
    assert method.parse_params(parse_method_params(typed).get(name, {})) == defaults


@pytest.mark.parametrize("name", EVERY_METHOD)
def test_every_method_refuses_an_unknown_param_listing_the_known_ones(name):
    method = get_method(name)
    known = [field.name for field in dataclasses.fields(method.params_class)] + list(method.extra_params)
    with pytest.raises(ParamError) as refused:
        method.parse_params({"no_such_param": 1})
    assert str(refused.value).startswith(f"{name}: unknown param(s) no_such_param; known: ")
    assert str(refused.value).endswith(", ".join(sorted(known)) or "none")


def wrong_value_for(annotation):
    """A value no field of this type takes."""
    if annotation in (int, float, bool):
        return "lots"
    if annotation is str:
        return ["lots"]
    if annotation is tuple or typing.get_origin(annotation) is tuple:
        return 3
    raise AssertionError(f"a method param of a type the tests do not cover: {annotation!r}")


@pytest.mark.parametrize("name", EVERY_METHOD)
def test_every_method_refuses_a_value_of_the_wrong_type_for_each_param(name):
    method = get_method(name)
    hints = typing.get_type_hints(method.params_class)
    for field in dataclasses.fields(method.params_class):
        value = wrong_value_for(hints[field.name])
        with pytest.raises(ParamError, match="^" + re.escape(f"{name}: param {field.name}={value!r} is not ")):
            method.parse_params({field.name: value})


@pytest.mark.parametrize("name", EVERY_METHOD)
def test_every_method_refuses_a_misspelt_param_before_doing_any_work(name):
    inputs = MethodInput(network=None, layer=None, probe=None, activations=None, params={"no_such_param": 3})
    with pytest.raises(ParamError, match=f"{name}: unknown param"):
        get_method(name).explain(inputs, units=[0])


def test_values_are_converted_to_the_declared_type_of_each_field():
    parsed = parse_params(Knobs, {"count": "20", "rate": 1, "enabled": "yes", "label": 7, "limit": "12",
                                  "words": "red, blue", "size": ["4", 6], "loose": [1, "b"]}, "m")
    assert parsed == Knobs(count=20, rate=1.0, enabled=True, label="7", limit=12, words=("red", "blue"), size=(4, 6), loose=(1, "b"))
    assert type(parsed.rate) is float and type(parsed.count) is int
    assert parse_params(Knobs, {"limit": None, "count": 4.0, "enabled": 0}, "m") == Knobs(limit=None, count=4, enabled=False)
    assert parse_params(Knobs, {"limit": "none"}, "m").limit is None


@pytest.mark.parametrize("name, value, needs", [
    ("count", 2.5, "an int"),
    ("count", True, "an int"),
    ("count", None, "an int"),
    ("rate", "fast", "a float"),
    ("enabled", "maybe", "a bool"),
    ("enabled", 2, "a bool"),
    ("label", None, "a str"),
    ("label", ["a"], "a str"),
    ("limit", "many", "an int or none"),
    ("words", 3, "a tuple of str"),
    ("size", [1, 2, 3], "a tuple of int, int"),
    ("size", "1,x", "a tuple of int, int"),
])
def test_values_of_the_wrong_type_are_refused_naming_the_type(name, value, needs):
    with pytest.raises(ParamError, match=f"^m: param {name}=.* is not {needs}$"):
        parse_params(Knobs, {name: value}, "m")


def test_params_that_are_not_a_mapping_are_refused():
    with pytest.raises(ParamError, match="m: params must be a mapping"):
        parse_params(Knobs, ["count"], "m")


def test_the_command_line_form_is_method_dot_name_equals_value():
    assert parse_method_params(["dnd.beta=3", "dnd.scoring=mean", "netdissect.quantile=0.01"]) == {
        "dnd": {"beta": 3, "scoring": "mean"}, "netdissect": {"quantile": 0.01}}
    with pytest.raises(CommandError, match="expected METHOD.NAME=VALUE"):
        parse_method_params(["beta=3"])
