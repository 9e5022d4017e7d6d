"""The one parser of method params (from a job record or the command line).

Every method names its hyperparameters in a dataclass; `parse_params` builds it from
a dict, refusing unknown names (listing the known ones) and converting each value to
its field's declared type: bool, int, float, str, Optional[...] and tuples. Values
from the command line arrive as JSON or plain strings, so "0.01", 0.01 and "true"
all work; a value that is not of the field's kind is refused with a message naming
the method, the param and the type it needs.
"""
from __future__ import annotations

import types
import typing
from dataclasses import fields
from typing import Any, Iterable

from explain.lookups import comma_list

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


class ParamError(ValueError):
    """A param a method does not know or a value it cannot take; the message names method and param."""


def parse_params(params_class, given: dict, method_name: str, extra: Iterable[str] = ()):
    """An instance of `params_class` from `given`.

    Names in `extra` are accepted and left out: the method reads them itself (objects
    handed in by code, such as a target network's activation function).
    """
    if not isinstance(given, dict):
        raise ParamError(f"{method_name}: params must be a mapping of names to values, got {type(given).__name__}")
    hints = typing.get_type_hints(params_class)
    known = {field.name: hints[field.name] for field in fields(params_class) if field.init}
    unknown = sorted(set(given) - set(known) - set(extra))
    if unknown:
        raise ParamError(
            f"{method_name}: unknown param(s) {', '.join(unknown)}; known: {', '.join(sorted(set(known) | set(extra))) or 'none'}"
        )
    values = {}
    for name, value in given.items():
        if name in known:
            try:
                values[name] = convert(value, known[name])
            except (TypeError, ValueError):
                raise ParamError(f"{method_name}: param {name}={value!r} is not {type_name(known[name])}") from None
    try:
        return params_class(**values)
    except (TypeError, ValueError) as error:  # the dataclass's own checks (__post_init__)
        raise ParamError(f"{method_name}: {error}") from None


def convert(value, annotation):
    """`value` as `annotation` (bool, int, float, str, X | None, tuple[X, ...], tuple[X, Y]); ValueError if it is not one."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in arguments and (value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null"})):
            return None
        for option in (argument for argument in arguments if argument is not type(None)):
            try:
                return convert(value, option)
            except (TypeError, ValueError):
                continue
        raise ValueError(value)
    if annotation is tuple or origin is tuple:
        return _to_tuple(value, arguments)
    if annotation is Any:
        return value
    if annotation is bool:
        return _to_bool(value)
    if annotation is int:
        return _to_int(value)
    if annotation is float:
        return _to_float(value)
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValueError(value)
    raise TypeError(f"unsupported param type {annotation!r}")


def type_name(annotation) -> str:
    """'an int', 'a float or none', 'a tuple of str' ... for messages."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(argument) for argument in arguments if argument is not type(None)]
        return " or ".join(names) + (" or none" if type(None) in arguments else "")
    if annotation is tuple or origin is tuple:
        items = [argument for argument in arguments if argument is not Ellipsis]
        return "a tuple" + (f" of {', '.join(getattr(item, '__name__', str(item)) for item in items)}" if items else "")
    name = getattr(annotation, "__name__", str(annotation))
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(value)


def _to_int(value) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(value)


def _to_float(value) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError(value)


def _to_tuple(value, arguments) -> tuple:
    if isinstance(value, str):
        value = comma_list(value)
    if not isinstance(value, (list, tuple)):
        raise ValueError(value)
    if not arguments:
        return tuple(value)
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        return tuple(convert(item, arguments[0]) for item in value)
    if len(arguments) != len(value):
        raise ValueError(value)
    return tuple(convert(item, argument) for item, argument in zip(value, arguments))
