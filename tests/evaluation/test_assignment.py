from datetime import timedelta

import pytest
from django.utils import timezone

from evaluation.models import Assignment, Response
from evaluation.services import (
    AlreadyAnswered,
    claim_assignment_for_neuron,
    claim_next_assignment,
    create_study,
    get_or_create_rater,
    invite_raters,
    submit_response,
    task_context,
)

from .conftest import METHOD_NAMES

pytestmark = pytest.mark.concurrency


def full_answer(assignment):
    slots = list(assignment.slots.order_by("position"))
    data = {f"rating-{slot.token}": "4" for slot in slots}
    data["best"] = slots[0].token
    return data


def rate(rater):
    assignment = claim_next_assignment(rater)
    if assignment is not None:
        submit_response(assignment, full_answer(assignment))
    return assignment


@pytest.fixture
def two_neuron_study(explained_network):
    return create_study("two", network=explained_network, methods=METHOD_NAMES, layers=["layer1"], per_layer=2, raters_per_neuron=2)


@pytest.mark.django_db
def test_each_neuron_ends_with_exactly_k_and_no_rater_repeats_a_neuron(two_neuron_study):
    raters = invite_raters(two_neuron_study, 5)
    for _ in range(3):
        for rater in raters:
            rate(rater)
    counts = sorted(sn.responses.count() for sn in two_neuron_study.study_neurons.all())
    assert counts == [2, 2]
    pairs = list(Response.objects.values_list("rater", "study_neuron"))
    assert len(pairs) == len(set(pairs)) == 4
    assert all(claim_next_assignment(r) is None for r in raters)


@pytest.mark.django_db
def test_next_neuron_is_the_one_with_fewest_responses_or_reservations(two_neuron_study):
    first, second, third = invite_raters(two_neuron_study, 3)
    a = claim_next_assignment(first)  # reserved, not answered
    b = claim_next_assignment(second)
    assert a.study_neuron != b.study_neuron
    submit_response(b, full_answer(b))
    c = claim_next_assignment(third)
    assert c.study_neuron in {a.study_neuron, b.study_neuron}  # both have load 1: the tie goes to study order
    assert c.study_neuron == min((a.study_neuron, b.study_neuron), key=lambda sn: sn.order)


@pytest.mark.django_db
def test_resume_returns_the_same_reserved_task(two_neuron_study):
    rater = invite_raters(two_neuron_study, 1)[0]
    first = claim_next_assignment(rater)
    again = claim_next_assignment(rater)
    assert again.pk == first.pk
    assert [s.token for s in again.slots.all()] == [s.token for s in first.slots.all()]


@pytest.mark.django_db
def test_expired_reservation_goes_back_to_the_pool(two_neuron_study, settings):
    two_neuron_study.raters_per_neuron = 1
    two_neuron_study.save()
    quitter, a, b = invite_raters(two_neuron_study, 3)
    abandoned = claim_next_assignment(quitter)
    taken = claim_next_assignment(a)
    assert claim_next_assignment(b) is None  # both neurons reserved
    Assignment.objects.filter(pk=abandoned.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revived = claim_next_assignment(b)
    assert revived.study_neuron == abandoned.study_neuron != taken.study_neuron
    assert Assignment.objects.get(pk=abandoned.pk).status == Assignment.Status.EXPIRED


@pytest.mark.django_db
def test_late_answer_to_an_expired_task_is_refused_when_the_neuron_was_given_away(two_neuron_study):
    from evaluation.services import SubmissionError

    two_neuron_study.raters_per_neuron = 1
    two_neuron_study.save()
    slow, fast, other = invite_raters(two_neuron_study, 3)
    late = claim_next_assignment(slow)
    claim_next_assignment(other)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    replacement = claim_next_assignment(fast)
    assert replacement.study_neuron == late.study_neuron
    submit_response(replacement, full_answer(replacement))
    with pytest.raises(SubmissionError, match="reservation of this task expired"):
        submit_response(late, full_answer(late))
    assert late.study_neuron.responses.count() == 1


@pytest.mark.django_db
def test_late_answer_to_an_expired_task_is_kept_when_there_is_room(two_neuron_study):
    rater = invite_raters(two_neuron_study, 1)[0]
    late = claim_next_assignment(rater)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert submit_response(late, full_answer(late)).is_valid


@pytest.mark.django_db
def test_claim_for_a_fixed_neuron_refuses_a_second_answer(two_neuron_study):
    worker = get_or_create_rater(two_neuron_study, "mturk", "A1WORKER")
    assert get_or_create_rater(two_neuron_study, "mturk", "A1WORKER") == worker
    study_neuron = two_neuron_study.study_neurons.first()
    assignment = claim_assignment_for_neuron(worker, study_neuron)
    assert claim_assignment_for_neuron(worker, study_neuron).pk == assignment.pk
    submit_response(assignment, full_answer(assignment), source="mturk", external_id="ASSIGN1")
    with pytest.raises(AlreadyAnswered):
        claim_assignment_for_neuron(worker, study_neuron)


@pytest.mark.django_db
def test_task_context_counts_progress(two_neuron_study):
    rater = invite_raters(two_neuron_study, 1)[0]
    rate(rater)
    context = task_context(claim_next_assignment(rater))
    assert context["progress"] == {"done": 1, "total": 2, "current": 2}
    assert len(context["images"]) == 10 and len(context["descriptions"]) == 3


@pytest.mark.django_db
def test_reservation_lasts_the_configured_timeout(two_neuron_study, settings):
    settings.RESERVATION_TIMEOUT_SECONDS = 90
    assignment = claim_next_assignment(invite_raters(two_neuron_study, 1)[0])
    assert (assignment.expires_at - assignment.reserved_at).total_seconds() == 90


@pytest.mark.django_db
def test_database_refuses_a_second_response_of_a_rater_for_a_neuron(two_neuron_study):
    from django.db import IntegrityError, transaction

    rater = invite_raters(two_neuron_study, 1)[0]
    assignment = claim_next_assignment(rater)
    stored = submit_response(assignment, full_answer(assignment))
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            study=two_neuron_study, rater=rater, study_neuron=stored.study_neuron, is_valid=True, submitted_at=timezone.now()
        )
    assert Response.objects.count() == 1
