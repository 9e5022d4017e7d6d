"""The adaptive choice and stopping rule on small explicit frames (no database)."""
import numpy as np
import pandas as pd
import pytest

from evaluation.adaptive import (
    AdaptiveSettings,
    Components,
    StopReason,
    choose_neuron,
    estimate_components,
    projected_stop,
    quantity_values,
    reported_variances,
    stop_decision,
)


def ratings(rows):
    """(neuron, response, {method: rating}) -> the long frame the functions read."""
    return pd.DataFrame(
        [(neuron, response, method, value) for neuron, response, values in rows for method, value in values.items()],
        columns=["neuron", "response", "method", "rating"],
    )


def neurons(rows):
    """(neuron, order, load, expected, drawn, available) rows."""
    return pd.DataFrame(rows, columns=["neuron", "order", "load", "expected", "drawn", "available"]).set_index("neuron")


def components(between, within, neuron_within=None):
    """One reported quantity with the given between- and within-neuron variances."""
    own = pd.DataFrame({"mean:a": neuron_within or {}}, dtype=float)
    return Components(["mean:a"], np.array([between]), np.array([within]), own)


def test_quantities_are_each_methods_rating_and_every_pairwise_difference():
    values = quantity_values(ratings([(1, 10, {"a": 4, "b": 2, "c": 5})]), methods=["a", "b", "c"])
    assert values.loc[(1, 10)].to_dict() == {
        "mean:a": 4, "mean:b": 2, "mean:c": 5, "diff:a-b": 2, "diff:a-c": -1, "diff:b-c": -3,
    }


def test_components_are_the_one_way_anova_moment_estimates():
    # Three neurons, two responses each, one method: neuron means 2, 3, 5; within pairs differ by 2, 0, 2.
    frame = ratings([
        (1, 1, {"a": 1}), (1, 2, {"a": 3}),
        (2, 3, {"a": 3}), (2, 4, {"a": 3}),
        (3, 5, {"a": 4}), (3, 6, {"a": 6}),
    ])
    found = estimate_components(quantity_values(frame))
    within = (2 + 0 + 2) / 3  # sum of squares about each neuron's mean over (k - 1) summed
    assert found.within[0] == pytest.approx(within)
    assert found.between[0] == pytest.approx(np.var([2, 3, 5], ddof=1) - within / 2)
    # A neuron's own estimate leans on the pooled one: (4 W + SS_n) / (4 + k - 1).
    assert found.neuron_within.loc[2, "mean:a"] == pytest.approx(4 * within / 5)


def test_no_estimate_while_fewer_than_three_neurons_have_two_responses():
    frame = ratings([(1, 1, {"a": 1}), (1, 2, {"a": 3}), (2, 3, {"a": 3}), (2, 4, {"a": 3}), (3, 5, {"a": 4})])
    assert estimate_components(quantity_values(frame)) is None


def test_variance_of_the_reported_mean_follows_formula_one():
    found = components(between=1.0, within=0.5, neuron_within={1: 0.5, 2: 0.5})
    counts = pd.Series({1: 3, 2: 1})
    assert reported_variances(found, counts)[0] == pytest.approx((1.0 * (9 + 1) + 0.5 * 4) / 16)


def test_drawn_neurons_below_the_minimum_come_first_fewest_first():
    table = neurons([(1, 0, 2, 2, True, True), (2, 1, 1, 1, True, True), (3, 2, 0, 0, True, True)])
    assert choose_neuron(table, components(1.0, 1.0), AdaptiveSettings(min_raters=2, max_raters=3)) == 3


def test_with_a_minimum_of_one_the_calibration_neurons_still_get_two_raters_first():
    # Neuron 1 (order 0) is a calibration neuron with one response; neuron 2 (order 1) is not.
    table = neurons([(1, 0, 1, 1, True, True), (2, 1, 1, 1, True, True), (3, 2, 0, 0, True, True)])
    settings = AdaptiveSettings(min_raters=1, max_raters=3, calibration_neurons=1)
    assert list(settings.floors(np.array([0, 1, 2]))) == [2, 1, 1]
    assert choose_neuron(table, None, settings) == 3  # below the minimum of one: first
    table.loc[3, ["load", "expected"]] = 1
    assert choose_neuron(table, None, settings) == 1  # the calibration neuron's second rater next


def test_with_a_minimum_of_one_a_new_neuron_beats_a_second_rater_when_neurons_vary():
    table = neurons([(1, 0, 2, 2, True, True), (2, 1, 1, 1, True, True), (3, 2, 0, 0, False, True)])
    settings = AdaptiveSettings(min_raters=1, max_raters=3, draw_neurons=True, calibration_neurons=1)
    assert choose_neuron(table, components(between=1.3, within=0.8), settings) == 3


def test_a_new_neuron_is_drawn_when_neurons_vary_more_than_raters():
    table = neurons([(1, 0, 2, 2, True, True), (2, 1, 2, 2, True, True), (3, 2, 0, 0, False, True)])
    settings = AdaptiveSettings(min_raters=2, max_raters=3, draw_neurons=True)
    assert choose_neuron(table, components(between=1.3, within=0.8), settings) == 3


def test_another_rater_on_a_quiet_neuron_beats_a_new_one_when_neurons_do_not_vary():
    # No between-neuron variance: a new neuron only adds responses, each as noisy as the pooled raters,
    # while neuron 2's raters agree closely.
    table = neurons([(1, 0, 2, 2, True, True), (2, 1, 2, 2, True, True), (3, 2, 0, 0, False, True)])
    settings = AdaptiveSettings(min_raters=2, max_raters=3, draw_neurons=True)
    assert choose_neuron(table, components(0.0, 1.0, neuron_within={1: 1.5, 2: 0.1}), settings) == 2


def test_before_any_estimate_a_rater_who_cannot_take_a_starting_neuron_starts_a_new_one():
    table = neurons([(1, 0, 1, 1, True, False), (2, 1, 2, 2, True, True), (3, 2, 0, 0, False, True)])
    assert choose_neuron(table, None, AdaptiveSettings(min_raters=2, max_raters=3, draw_neurons=True)) == 3
    assert choose_neuron(table, None, AdaptiveSettings(min_raters=2, max_raters=3)) == 2


def test_never_a_neuron_at_its_cap_or_one_the_rater_cannot_take():
    table = neurons([(1, 0, 3, 3, True, True), (2, 1, 2, 2, True, False), (3, 2, 2, 2, True, True)])
    assert choose_neuron(table, components(1.0, 1.0), AdaptiveSettings(min_raters=2, max_raters=3)) == 3
    table.loc[3, "available"] = False
    assert choose_neuron(table, components(1.0, 1.0), AdaptiveSettings(min_raters=2, max_raters=3)) is None


def test_undrawn_neurons_stay_out_unless_drawing_is_on():
    table = neurons([(1, 0, 3, 3, True, True), (2, 1, 0, 0, False, True)])
    assert choose_neuron(table, components(1.0, 1.0), AdaptiveSettings(max_raters=3)) is None
    assert choose_neuron(table, components(1.0, 1.0), AdaptiveSettings(max_raters=3, draw_neurons=True)) == 2


def test_stop_at_the_budget_before_the_target():
    found = components(between=1.0, within=1.0)
    stored = pd.Series({n: 2 for n in range(1, 101)})  # V = (4 * 100 + 200) / 200^2 = 0.015
    width = 1.959964 * np.sqrt(0.015)
    stop = stop_decision(found, stored, 200, AdaptiveSettings(target_half_width=width + 0.01, budget_responses=200))
    assert stop.reason == StopReason.BUDGET and stop.figures["responses"] == 200
    stop = stop_decision(found, stored, 200, AdaptiveSettings(target_half_width=width + 0.01, budget_responses=500))
    assert stop.reason == StopReason.TARGET
    assert stop.figures["largest_half_width"] == pytest.approx(width, abs=1e-4)
    assert stop_decision(found, stored, 200, AdaptiveSettings(target_half_width=width - 0.01)) is None
    assert stop_decision(found, stored, 200, AdaptiveSettings(target_half_width=width - 0.01), pool_left=False).reason == (
        StopReason.EXHAUSTED
    )


def test_no_target_stop_before_the_variances_can_be_estimated():
    assert stop_decision(None, pd.Series({1: 2}), 2, AdaptiveSettings(target_half_width=10.0)) is None


def test_reservations_that_would_meet_the_target_hold_back_new_tasks():
    found = components(between=1.0, within=1.0)
    expected = pd.Series({n: 2 for n in range(1, 101)})
    assert projected_stop(found, expected, 200, AdaptiveSettings(target_half_width=0.25))
    assert not projected_stop(found, expected, 200, AdaptiveSettings(target_half_width=0.2))
    assert projected_stop(found, expected, 200, AdaptiveSettings(target_half_width=0.2, budget_responses=200))
