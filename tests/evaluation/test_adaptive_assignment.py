"""Adaptive collection under raters claiming and answering at once, each in its own connection and transactions."""
import random
import time
from collections import Counter
from functools import partial

import pytest
from django.db import connection

from evaluation.collection import counted_ratings, policy_excluded_raters
from evaluation.models import Assignment, CollectionStop, Response, Study
from evaluation.services import (
    AdaptivePlan,
    NothingLeft,
    StudyError,
    claim_assignment_for_neuron,
    claim_next_assignment,
    create_study,
    exclude,
    invite_raters,
    retry_in_seconds,
    submit_response,
)

from .conftest import METHOD_NAMES, build_explained_network
from .helpers import run_at_once

pytestmark = pytest.mark.concurrency

THREADS = 8
CAP = 3


def varied_answer(assignment, rng):
    """Ratings that vary from rater to rater; the best pick is a top-rated description (a valid answer)."""
    slots = list(assignment.slots.order_by("position"))
    values = [rng.randint(1, 5) for _ in slots]
    data = {f"rating-{slot.token}": str(value) for slot, value in zip(slots, values)}
    data["best"] = slots[values.index(max(values))].token
    return data


def rate_until_nothing_left(rater, seed, errors):
    rng = random.Random(seed)
    try:
        for _ in range(200):
            assignment = claim_next_assignment(rater)
            if assignment is None:
                if retry_in_seconds(rater) is None:
                    return
                time.sleep(0.02)  # others hold reservations that may still come back
                continue
            submit_response(assignment, varied_answer(assignment, rng))
        errors.append(f"rater {rater.pk} never ran out of tasks")
    except Exception as error:  # collected, asserted in the main thread
        errors.append(f"rater {rater.pk}: {type(error).__name__}: {error}")
    finally:
        connection.close()


def run_raters(study, count=THREADS):
    raters = invite_raters(study, count)
    errors = []
    run_at_once([partial(rate_until_nothing_left, rater, seed, errors) for seed, rater in enumerate(raters)], timeout=180)
    assert errors == []
    return raters


def adaptive_study(name, **plan):
    assert not (connection.vendor == "sqlite" and connection.is_in_memory_db()), "needs separate connections per thread"
    network = build_explained_network(units_per_layer=5, images=10)
    return create_study(name, network=network, methods=METHOD_NAMES, per_layer=5, raters_per_neuron=CAP,
                        adaptive=AdaptivePlan(**plan))


def assert_no_task_after_the_stop(study, raters):
    stop = CollectionStop.objects.get(study=study)
    last_handed = Assignment.objects.filter(study_neuron__study=study, is_check=False).latest("reserved_at").reserved_at
    assert last_handed <= stop.stopped_at
    latecomer = invite_raters(study, 1)[0]
    assert claim_next_assignment(latecomer) is None and retry_in_seconds(latecomer) is None
    with pytest.raises(NothingLeft):
        claim_assignment_for_neuron(latecomer, study.study_neurons.first())
    return stop


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_raters_stop_exactly_at_the_budget_and_no_neuron_passes_its_cap():
    study = adaptive_study("budgeted", min_raters=2, budget_responses=23)
    raters = run_raters(study)

    per_neuron = Counter(Response.objects.filter(study=study, is_check=False).values_list("study_neuron", flat=True))
    assert max(per_neuron.values()) <= CAP
    assert sum(per_neuron.values()) == 23  # never a reservation past the budget, every one answered
    assert len(per_neuron) == 10 and min(per_neuron.values()) >= 2  # every neuron got the minimum first
    pairs = list(Response.objects.filter(study=study).values_list("rater", "study_neuron"))
    assert len(pairs) == len(set(pairs))
    stop = assert_no_task_after_the_stop(study, raters)
    assert stop.reason == CollectionStop.Reason.BUDGET
    assert stop.figures["responses"] == 23 and stop.figures["spend"] == pytest.approx(2.30)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_raters_stop_at_the_target_half_width_and_the_stop_is_recorded():
    # A wide target is met as soon as the variances can be estimated (three neurons with two answers).
    study = adaptive_study("targeted", min_raters=2, target_half_width=50.0)
    raters = run_raters(study)

    stop = assert_no_task_after_the_stop(study, raters)
    assert stop.reason == CollectionStop.Reason.TARGET
    assert stop.figures["largest_half_width"] <= 50.0 and stop.figures["target_half_width"] == 50.0
    per_neuron = Counter(Response.objects.filter(study=study, is_check=False).values_list("study_neuron", flat=True))
    assert max(per_neuron.values()) <= CAP
    # Stopped long before every neuron had its cap (10 x 3), and answers to tasks already out were kept.
    assert stop.figures["counted_responses"] <= sum(per_neuron.values()) < 10 * CAP


@pytest.mark.django_db
def test_an_adaptive_study_needs_a_way_to_stop_a_minimum_of_one_and_a_cap_of_two(explained_network):
    with pytest.raises(StudyError, match="target CI half-width or a budget"):
        create_study("no-stop", network=explained_network, methods=METHOD_NAMES, per_layer=2, adaptive=AdaptivePlan())
    with pytest.raises(StudyError, match="minimum raters per neuron must be from 1 to the raters per neuron"):
        create_study("none", network=explained_network, methods=METHOD_NAMES, per_layer=2,
                     adaptive=AdaptivePlan(min_raters=0, budget_responses=10))
    with pytest.raises(StudyError, match="at least 2 raters per neuron"):
        create_study("single", network=explained_network, methods=METHOD_NAMES, per_layer=2, raters_per_neuron=1,
                     adaptive=AdaptivePlan(min_raters=1, budget_responses=10))
    assert not Study.objects.exists()


def neuron_driven_answer(assignment):
    """Every rater rates a description by its neuron and method alone: neurons vary, raters agree."""
    slots = list(assignment.slots.order_by("position").select_related("item"))
    values = [1 + (2 * assignment.study_neuron.order + slot.item.method_id) % 5 for slot in slots]
    data = {f"rating-{slot.token}": str(value) for slot, value in zip(slots, values)}
    data["best"] = slots[values.index(max(values))].token
    return data


@pytest.mark.django_db
def test_drawing_starts_with_the_first_neurons_and_draws_the_next_when_they_have_the_minimum(explained_network):
    study = create_study("drawing", network=explained_network, methods=METHOD_NAMES, per_layer=6, raters_per_neuron=CAP,
                         adaptive=AdaptivePlan(min_raters=2, budget_responses=100, draw_neurons=True, start_neurons=3))
    raters = invite_raters(study, 4)
    for turn in ([0, 1, 2], [2, 1, 0]):
        for rater in (raters[i] for i in turn):
            assignment = claim_next_assignment(rater)
            submit_response(assignment, neuron_driven_answer(assignment))
    per_order = Counter(Response.objects.filter(study=study).values_list("study_neuron__order", flat=True))
    assert per_order == {0: 2, 1: 2, 2: 2}  # the three start neurons, the minimum each
    # Raters agree and neurons differ: a new neuron narrows the intervals more than a third rater would.
    assert claim_next_assignment(raters[3]).study_neuron.order == 3


@pytest.mark.django_db
def test_an_excluded_rater_gets_no_new_task_and_their_answers_do_not_count(explained_network):
    study = create_study("excluding", network=explained_network, methods=METHOD_NAMES, per_layer=3, raters_per_neuron=CAP,
                         adaptive=AdaptivePlan(min_raters=2, budget_responses=100))
    careless, careful = invite_raters(study, 2)
    assignment = claim_next_assignment(careless)
    submit_response(assignment, neuron_driven_answer(assignment))
    exclude(study, rater=careless, reason="answers at random")
    assert claim_next_assignment(careless) is None
    assert counted_ratings(study).empty  # the adaptive rule counts nothing from an excluded rater
    assert claim_next_assignment(careful) is not None


@pytest.mark.django_db
def test_a_rater_the_study_policy_leaves_out_gets_no_new_task(explained_network):
    study = create_study("policed", network=explained_network, methods=METHOD_NAMES, per_layer=3, raters_per_neuron=CAP,
                         adaptive=AdaptivePlan(min_raters=2, budget_responses=100))
    study.exclusion_policy = "straight_line_rate > 0.5"
    study.save(update_fields=["exclusion_policy"])
    straight, varied = invite_raters(study, 2)
    assignment = claim_next_assignment(straight)
    slots = list(assignment.slots.order_by("position"))
    submit_response(assignment, {**{f"rating-{slot.token}": "3" for slot in slots}, "best": slots[0].token})
    assignment = claim_next_assignment(varied)
    submit_response(assignment, neuron_driven_answer(assignment))

    assert policy_excluded_raters(study) == {straight.pk}
    assert claim_next_assignment(straight) is None
    assert set(counted_ratings(study, {straight.pk})["response"]) == {assignment.response.pk}
    assert claim_next_assignment(varied) is not None
