"""The best-choice consistency rule of the reference study, as a pure function.

A response is valid iff every shown description got a rating in 1..5 and, when
the best question was asked, the description picked as best is one of those
the same rater rated highest (any of several tied highest is fine).
"""
from __future__ import annotations

from typing import Hashable, Mapping

RATING_MIN = 1
RATING_MAX = 5


def validate_response(
    ratings: Mapping[Hashable, int | None], best: Hashable | None, ask_best: bool
) -> tuple[bool, str]:
    """Return (is_valid, reason); reason is "" for a valid response."""
    if not ratings:
        return False, "no descriptions were shown"
    for key, value in ratings.items():
        if value is None:
            return False, f"description {key} was not rated"
        if isinstance(value, bool) or not isinstance(value, int) or not RATING_MIN <= value <= RATING_MAX:
            return False, f"rating {value!r} of description {key} is outside {RATING_MIN}..{RATING_MAX}"
    if not ask_best:
        return True, ""
    if best is None:
        return False, "no description was picked as best"
    if best not in ratings:
        return False, f"the description picked as best ({best}) was not shown"
    highest = max(ratings.values())
    if ratings[best] < highest:
        return False, f"the description picked as best was rated {ratings[best]}, below the highest rating {highest}"
    return True, ""
