"""TEMPORARY copy of the study validity rule, used only while evaluation.validation is absent.

The rule is owned by evaluation.validation.validate_response; this module exists
so the analysis branch runs on its own during parallel work and is to be
deleted when the branches merge.
"""
from __future__ import annotations


def validate_response_fallback(ratings: dict, best, ask_best: bool) -> tuple[bool, str]:
    """Valid iff every shown description has a rating in 1..5 and, when the best
    question was asked, the best pick is one of the descriptions rated highest (ties ok)."""
    if not ratings:
        return False, "no descriptions rated"
    for value in ratings.values():
        if value is None or not 1 <= int(value) <= 5:
            return False, "missing or out-of-range rating"
    if not ask_best:
        return True, ""
    if best is None:
        return False, "no best description picked"
    if best not in ratings:
        return False, "best pick was not shown"
    if ratings[best] < max(ratings.values()):
        return False, "best pick is not among the highest rated"
    return True, ""
