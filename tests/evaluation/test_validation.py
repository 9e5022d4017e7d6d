import pytest

from evaluation.validation import validate_response

pytestmark = pytest.mark.submission_safety

CASES = [
    # ratings, best, ask_best, is_valid, reason fragment
    ({"a": 5, "b": 3, "c": 1}, "a", True, True, ""),
    ({"a": 4, "b": 4, "c": 2}, "b", True, True, ""),  # tie: either tied highest is fine
    ({"a": 4, "b": 4, "c": 2}, "a", True, True, ""),
    ({"a": 4, "b": 4, "c": 2}, "c", True, False, "below the highest rating 4"),
    ({"a": 2, "b": 5}, "a", True, False, "rated 2, below the highest rating 5"),
    ({"a": 3}, "a", True, True, ""),  # a single description is its own best
    ({"a": 3}, None, True, False, "no description was picked as best"),
    ({"a": 5, "b": 1}, None, True, False, "no description was picked as best"),
    ({"a": 5, "b": 1}, None, False, True, ""),  # best question not asked
    ({"a": 1, "b": 5}, "a", False, True, ""),  # a pick is irrelevant when not asked
    ({"a": 5, "b": None}, "a", True, False, "description b was not rated"),
    ({"a": 5, "b": 6}, "a", True, False, "outside 1..5"),
    ({"a": 0, "b": 2}, "b", True, False, "outside 1..5"),
    ({"a": 5, "b": 2}, "z", True, False, "was not shown"),
    ({}, None, True, False, "no descriptions"),
]


@pytest.mark.parametrize("ratings,best,ask_best,is_valid,reason", CASES)
def test_validity_rule(ratings, best, ask_best, is_valid, reason):
    valid, why = validate_response(ratings, best, ask_best)
    assert valid is is_valid
    assert reason in why
    assert (why == "") is valid
