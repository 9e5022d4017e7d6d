"""Rater quality signals, the combined score and exclusion policies, on small hand-built raters."""
import numpy as np
import pandas as pd
import pytest

from evaluation.quality import PolicyError, apply_policy, parse_policy, quality_score, rater_signals

METHODS = ["a", "b", "c", "d"]
# What a careful rater thinks of each method's description of units 0..5 (method a best, d worst).
TRUTH = {
    0: [5, 4, 2, 1], 1: [4, 4, 3, 1], 2: [5, 3, 3, 2], 3: [4, 2, 2, 1], 4: [5, 4, 1, 2], 5: [3, 2, 1, 1],
}
RANDOM_RATINGS = {0: [2, 5, 1, 4], 1: [1, 3, 5, 2], 2: [4, 1, 2, 5], 3: [3, 5, 4, 1], 4: [1, 2, 5, 3], 5: [5, 1, 3, 2]}


def shown_order(unit: int) -> list[int]:
    """Method indexes in the order they were shown: rotated per unit, as a shuffle would vary them."""
    return [(unit + shift) % 4 for shift in range(4)]


def response_rows(rater, unit, ratings, best, seconds):
    """One response: `ratings` by method index, `best` a method index (picked as best)."""
    return [
        {"rater": rater, "layer": "layer1", "unit": unit, "method": METHODS[m], "rating": ratings[m],
         "position": position, "best": m == best, "uninterpretable": False, "none_fit": False, "seconds": seconds}
        for position, m in enumerate(shown_order(unit))
    ]


def careful(rater, bias=0, seconds=30.0):
    rows = []
    for unit, truth in TRUTH.items():
        ratings = [int(np.clip(v + bias, 1, 5)) for v in truth]
        rows += response_rows(rater, unit, ratings, int(np.argmax(ratings)), seconds + unit)
    return rows


def straight_liner(rater="straight", seconds=25.0):
    return [row for unit in TRUTH for row in response_rows(rater, unit, [3, 3, 3, 3], unit % 4, seconds)]


def random_rater(rater="random", seconds=28.0):
    # Best picks at random too: units 0, 2 and 4 pick a description rated below the top.
    picks = {0: 0, 1: 2, 2: 0, 3: 1, 4: 0, 5: 0}
    return [row for unit, ratings in RANDOM_RATINGS.items() for row in response_rows(rater, unit, ratings, picks[unit], seconds)]


def too_fast(rater="fast"):
    # Careful-looking answers, in two seconds each.
    return careful(rater, seconds=2.0)


def first_shown_lover(rater="first"):
    rows = []
    for unit in TRUTH:
        order = shown_order(unit)
        ratings = [5 if m == order[0] else 2 for m in range(4)]
        rows += response_rows(rater, unit, ratings, order[0], 30.0)
    return rows


@pytest.fixture(scope="module")
def signals():
    rows = (careful("careful-1") + careful("careful-2", bias=1) + careful("careful-3", bias=-1) + straight_liner()
            + random_rater() + too_fast() + first_shown_lover())
    checks = pd.DataFrame({"rater": ["careful-1", "careful-1", "random", "random", "fast"],
                           "check_passed": [True, True, True, False, False]})
    return rater_signals(pd.DataFrame(rows), checks).set_index("rater")


def test_straight_liner_is_caught_by_straight_lining_and_scores_no_agreement(signals):
    assert signals.loc["straight", "straight_line_rate"] == 1.0
    assert signals.loc["straight", "agreement"] == 0.0
    assert signals.loc["careful-1", "straight_line_rate"] == 0.0
    # Every description tied at the top: the first one is "highest" by chance, no position preference.
    assert signals.loc["straight", "first_highest_rate"] == 1.0 and signals.loc["straight", "position_preference"] == 0.0


def test_careful_raters_agree_with_the_others_and_a_random_rater_does_not(signals):
    for rater in ("careful-1", "careful-2", "careful-3", "fast"):
        assert signals.loc[rater, "agreement"] > 0.7, rater
    assert signals.loc["random", "agreement"] < 0.2
    # A personal bias moves every rating the same way: agreement is a rank correlation, so it stays high.
    assert signals.loc["careful-2", "agreement"] == pytest.approx(signals.loc["careful-1", "agreement"], abs=0.15)


def test_invalid_rate_follows_the_best_choice_rule(signals):
    assert signals.loc["random", "invalid_rate"] == pytest.approx(3 / 6)
    assert signals.loc["careful-1", "invalid_rate"] == 0.0
    assert signals.loc["random", "responses"] == 6


def test_too_fast_rater_stands_out_in_time_not_in_answers(signals):
    assert signals.loc["fast", "median_seconds"] == pytest.approx(4.5)
    study_median = np.median([30 + u for u in range(6)] * 3 + [25] * 6 + [28] * 6 + [2 + u for u in range(6)] + [30] * 6)
    assert signals.loc["fast", "time_ratio"] == pytest.approx(4.5 / study_median)
    assert signals.loc["fast", "time_z"] < -3
    assert abs(signals.loc["careful-1", "time_z"]) < 1.5


def test_position_preference_is_first_shown_highest_above_chance(signals):
    assert signals.loc["first", "first_highest_rate"] == 1.0
    assert signals.loc["first", "first_highest_chance"] == pytest.approx(0.25)
    assert signals.loc["first", "position_preference"] == pytest.approx(0.75)
    assert signals.loc["careful-1", "position_preference"] < 0.25


def test_check_pass_rate_only_where_checks_were_answered(signals):
    assert signals.loc["careful-1", "check_pass_rate"] == 1.0 and signals.loc["careful-1", "checks"] == 2
    assert signals.loc["random", "check_pass_rate"] == 0.5
    assert signals.loc["fast", "check_pass_rate"] == 0.0
    assert np.isnan(signals.loc["careful-2", "check_pass_rate"]) and signals.loc["careful-2", "checks"] == 0


def test_combined_score_puts_careful_raters_above_every_careless_one(signals):
    careless = ["straight", "random", "fast", "first"]
    lowest_careful = signals.loc[["careful-1", "careful-2", "careful-3"], "quality_score"].min()
    assert lowest_careful > 0.85
    assert signals.loc[careless, "quality_score"].max() < lowest_careful
    assert (quality_score(signals) == signals["quality_score"]).all()


def test_flagged_rate_counts_responses_with_either_flag():
    rows = careful("careful-1")
    for row in rows:
        if row["unit"] in (0, 1):
            row["none_fit" if row["unit"] == 0 else "uninterpretable"] = True
    assert rater_signals(pd.DataFrame(rows)).loc[0, "flagged_rate"] == pytest.approx(2 / 6)


def test_validity_from_is_valid_column_when_present_and_signals_without_optional_columns():
    frame = pd.DataFrame(random_rater()).drop(columns=["best", "position", "seconds"])
    frame["is_valid"] = frame["unit"] != 1
    row = rater_signals(frame).iloc[0]
    assert row["invalid_rate"] == pytest.approx(1 / 6)
    assert np.isnan(row["median_seconds"]) and np.isnan(row["position_preference"]) and np.isnan(row["agreement"])


def test_policy_parses_readable_rules_and_leaves_out_who_matches(signals):
    policy = parse_policy("check pass rate < 0.8 or median time < 5 s\nstraight_line_rate >= 50%")
    assert str(policy) == "check_pass_rate < 0.8 or median_seconds < 5 or straight_line_rate >= 0.5"
    outcome = apply_policy(signals.reset_index(), policy)
    assert outcome.excluded == {"random", "fast", "straight"}
    assert outcome.rule_counts == {"check_pass_rate < 0.8": 2, "median_seconds < 5": 1, "straight_line_rate >= 0.5": 1}
    reasons = outcome.raters.set_index("rater")["reasons"]
    assert reasons["fast"] == "check_pass_rate < 0.8; median_seconds < 5" and reasons["careful-2"] == ""
    assert outcome.summary()["raters_before"] == 7 and outcome.summary()["raters_after"] == 4


def test_unmeasured_signal_never_excludes(signals):
    outcome = apply_policy(signals.reset_index(), "check_pass_rate < 0.8")
    assert "careful-2" in outcome.kept  # answered no check


def test_empty_policy_keeps_everyone(signals):
    assert not parse_policy("  ")
    assert apply_policy(signals.reset_index(), "").excluded == set()


@pytest.mark.parametrize("text, message", [
    ("check pass rate < 0.8 or median tme < 5 s", 'rule 2 "median tme < 5 s": unknown signal "median_tme"'),
    ("invalid_rate > 30", 'rule 1 "invalid_rate > 30": invalid_rate lies between 0 and 1'),
    ("agreement < 0.1 s", "only median_seconds is in seconds"),
    ("median_seconds = 5", 'rule 1 "median_seconds = 5": write <signal> <op> <number>'),
    ("agreement < 0.1 or", "an empty rule"),
])
def test_bad_policy_names_the_rule_at_fault(text, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        parse_policy(text)
