"""What a user names on a command line or in a job: rows by name, and comma-separated lists.

The lowest app that needs them; the apps above (evaluation, scoring, analysis, mturk) use
the same two helpers, so every "no such thing" message reads alike and lists what exists.
Never hand `named` a visitor's input on a page: its message lists every row's name.
"""
from __future__ import annotations

from django.db import models


def named(rows: type[models.Model] | models.QuerySet, value, *, what: str, error: type[Exception] = LookupError,
          field: str = "name", hint: str = ""):
    """`value` when it already is one of `rows`' model, else the row whose `field` equals it.

    A name that matches nothing raises `error` saying so and listing the names there are
    (and `hint`, e.g. the names that would be built on demand).
    """
    queryset = rows.objects.all() if isinstance(rows, type) else rows
    if isinstance(value, queryset.model):
        return value
    row = queryset.filter(**{field: value}).first()
    if row is None:
        known = ", ".join(str(name) for name in queryset.order_by(field).values_list(field, flat=True)) or "none"
        raise error(f"no {what} named {value!r} (known: {known}{'; ' + hint if hint else ''})")
    return row


def comma_list(text: str) -> list[str]:
    """'a, b,,c ' -> ['a', 'b', 'c']."""
    return [part.strip() for part in text.split(",") if part.strip()]
