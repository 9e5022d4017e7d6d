"""Exclusions are data: one target each (enforced by the database), a reason, never a deletion."""
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from evaluation.models import Exclusion, Response
from evaluation.services import StudyError, create_study, exclude, excluded_response_reasons, include, invite_raters

from .conftest import METHOD_NAMES
from .test_researcher_pages import play

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(small_study):
    first, second = invite_raters(small_study, 2)
    play(first)
    play(first)
    play(second)
    return small_study, first, second


def test_database_refuses_an_exclusion_with_no_target_or_two(answered):
    study, rater, _ = answered
    response = Response.objects.filter(rater=rater).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Exclusion.objects.create(study=study, reason="no target")
    with pytest.raises(IntegrityError), transaction.atomic():
        Exclusion.objects.create(study=study, rater=rater, response=response, reason="two targets")
    assert Exclusion.objects.count() == 0


def test_exclude_rater_then_include_keeps_the_history(answered):
    study, rater, other = answered
    researcher = get_user_model().objects.create_user("r", password="pw-for-tests")
    exclusion = exclude(study, rater=rater, reason="  straight-lined every task ", by=researcher)
    assert exclusion.reason == "straight-lined every task" and exclusion.created_by == researcher
    assert exclude(study, rater=rater, reason="again") == exclusion  # already excluded: the first reason stands
    reasons = excluded_response_reasons(study)
    assert set(reasons) == set(Response.objects.filter(rater=rater).values_list("pk", flat=True))
    assert set(reasons.values()) == {"rater excluded: straight-lined every task"}
    assert include(study, rater=rater, by=researcher) == 1
    assert excluded_response_reasons(study) == {}
    exclusion.refresh_from_db()
    assert exclusion.lifted_by == researcher and exclusion.lifted_at is not None
    assert Response.objects.count() == 3  # nothing deleted
    assert include(study, rater=rater) == 0


def test_exclude_one_response(answered):
    study, rater, _ = answered
    response = Response.objects.filter(rater=rater).first()
    exclude(study, response=response, reason="answered in 2 seconds")
    assert excluded_response_reasons(study) == {response.pk: "response excluded: answered in 2 seconds"}


def test_exclusion_refuses_bad_requests(answered, explained_network):
    study, rater, _ = answered
    other_study = create_study("other", network=explained_network, methods=METHOD_NAMES, per_layer=1)
    foreign = invite_raters(other_study, 1)[0]
    with pytest.raises(StudyError, match="needs a reason"):
        exclude(study, rater=rater, reason="   ")
    with pytest.raises(StudyError, match="does not belong"):
        exclude(study, rater=foreign, reason="wrong study")
    with pytest.raises(StudyError, match="exactly one"):
        exclude(study, reason="nothing named")
    with pytest.raises(StudyError, match="exactly one"):
        exclude(study, rater=rater, response=Response.objects.first(), reason="both")
    assert Exclusion.objects.count() == 0
