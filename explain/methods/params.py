"""Method params (from a job or the command line) checked against a method's hyperparameter dataclass."""
from __future__ import annotations

from dataclasses import fields
from typing import Iterable


def params_from(params_class, given: dict, method_name: str, extra: Iterable[str] = ()):
    """An instance of `params_class` from `given`, refusing unknown names and values of the wrong kind.

    Names in `extra` are accepted but left out (the method reads them itself). Each value is
    converted to the type of the field's default, so '0.01' and 0.01 both work.
    """
    known = {f.name: f for f in fields(params_class)}
    unknown = sorted(set(given) - set(known) - set(extra))
    if unknown:
        raise ValueError(
            f"{method_name}: unknown param(s) {', '.join(unknown)}; known: {', '.join(sorted(set(known) | set(extra)))}"
        )
    values = {}
    for name, value in given.items():
        if name not in known:
            continue
        kind = type(known[name].default)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{method_name}: param {name}={value!r} is not an int")
        try:
            values[name] = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{method_name}: param {name}={value!r} is not a {kind.__name__}") from None
    return params_class(**values)
