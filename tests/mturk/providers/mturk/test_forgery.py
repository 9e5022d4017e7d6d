"""The MTurk frame under attack: made-up assignment/worker ids, reused worker ids, closed HITs and
studies, malformed ids. Every forged or bad request is refused or left unverified, and the tables
count only what harvest confirmed on MTurk."""
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from analysis.services import comparison_for_study
from evaluation.models import Assignment, Rater, Rating, Response
from mturk.models import Hit
from tests.evaluation.helpers import answer, read_task

from .conftest import frame_params

pytestmark = [pytest.mark.crowd, pytest.mark.submission_safety]

REAL = [("3REALASSIGNMENT00000000000001", "AREALWORKER1"), ("3REALASSIGNMENT00000000000002", "AREALWORKER2"),
        ("3REALASSIGNMENT00000000000003", "AREALWORKER3")]


def open_and_answer(client, hit, assignment, worker):
    url = f"/mturk/task/{hit.request_token}/"
    page = client.get(url, frame_params(hit, assignment, worker))
    if page.status_code != 200:
        return page
    html = page.content.decode()
    return client.post(url, {**answer(read_task(html)), **frame_params(hit, assignment, worker)})


def counts():
    return {model.__name__: model.objects.count() for model in (Rater, Assignment, Response, Rating)}


def harvest(stubbed_mturk, hits, found):
    client, stubber = stubbed_mturk
    for hit in hits:
        mine = [
            {"AssignmentId": a, "WorkerId": w, "HITId": hit.hit_id, "AssignmentStatus": "Submitted"}
            for h, a, w in found if h == hit
        ]
        stubber.add_response("get_hit", {"HIT": {"HITId": hit.hit_id, "MaxAssignments": 3}}, {"HITId": hit.hit_id})
        stubber.add_response("list_assignments_for_hit", {"Assignments": mine, "NumResults": len(mine)},
                             {"HITId": hit.hit_id, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]})
    call_command("mturk", "harvest", "--study", "crowd", stdout=StringIO())


@pytest.mark.django_db
def test_a_flood_of_made_up_ids_leaves_at_most_k_verified_and_a_table_without_them(client, hits, stubbed_mturk):
    hit = hits[0]
    forged = [(f"3FAKEASSIGNMENT{i:015d}", f"AFAKEWORKER{i}") for i in range(8)]
    forged.append(("3FAKEASSIGNMENT999999999999999", REAL[0][1]))  # a real worker's id, made-up assignment
    for assignment, worker in forged:
        assert open_and_answer(client, hit, assignment, worker).status_code == 200
    # The real workers are not locked out, the one whose id was reused included.
    for assignment, worker in REAL:
        assert open_and_answer(client, hit, assignment, worker).status_code == 200
    assert Response.objects.filter(verified=False).count() == len(forged) + len(REAL)

    harvest(stubbed_mturk, hits, [(hit, a, w) for a, w in REAL])

    verified = Response.objects.filter(verified=True)
    assert verified.count() == 3 and verified.count() <= hit.study_neuron.study.raters_per_neuron
    assert sorted(verified.values_list("rater__external_id", flat=True)) == sorted(w for _, w in REAL)
    assert Response.objects.filter(verified=False).count() == len(forged)
    table = comparison_for_study(hit.study_neuron.study, n_resamples=20)
    assert set(table["n"]) == {3}
    with_unverified = comparison_for_study(hit.study_neuron.study, include_unverified=True, n_resamples=20)
    assert set(with_unverified["n"]) == {3 + len(forged)}


@pytest.mark.django_db
def test_a_made_up_pair_reusing_the_real_assignment_id_does_not_take_its_place(client, hits, stubbed_mturk):
    hit = hits[0]
    real_assignment, real_worker = REAL[0]
    assert open_and_answer(client, hit, real_assignment, "AFORGER").status_code == 200
    assert open_and_answer(client, hit, real_assignment, real_worker).status_code == 200

    harvest(stubbed_mturk, hits, [(hit, real_assignment, real_worker)])

    assert Response.objects.get(verified=True).rater.external_id == real_worker
    assert Response.objects.get(verified=False).rater.external_id == f"AFORGER:{real_assignment}"


@pytest.mark.django_db
def test_k_live_reservations_fill_a_hit_and_the_next_visitor_is_told_when_to_come_back(client, hits):
    hit = hits[0]
    for i in range(3):
        assert client.get(f"/mturk/task/{hit.request_token}/", frame_params(hit, f"3HOLD{i}", f"AHOLDER{i}")).status_code == 200
    before = counts()

    page = client.get(f"/mturk/task/{hit.request_token}/", frame_params(hit, "3LATE", "ALATE"))

    assert page.status_code == 409
    assert "being worked on; try again in 30 minutes" in page.content.decode()
    assert counts() == before


@pytest.mark.django_db
def test_one_pair_holds_one_reservation_and_cannot_move_to_another_hit(client, hits):
    first, second = hits
    client.get(f"/mturk/task/{first.request_token}/", frame_params(first, "3PAIR", "APAIR"))
    before = counts()

    page = client.get(f"/mturk/task/{second.request_token}/", frame_params(second, "3PAIR", "APAIR"))

    assert page.status_code == 400 and "belongs to another HIT" in page.content.decode()
    assert counts() == before and Assignment.objects.filter(status="reserved").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["deleted", "expired", "creating", "past_expiry"])
def test_a_hit_that_is_not_open_takes_nothing(client, hits, change):
    hit = hits[0]
    if change == "past_expiry":
        hit.expires_at = timezone.now() - timedelta(minutes=1)
    else:
        hit.status = change
    hit.save()
    before = counts()
    page = client.get(f"/mturk/task/{hit.request_token}/", frame_params(hit, *REAL[0]))
    assert page.status_code == 410 and "no longer available" in page.content.decode()
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["draft", "paused", "closed"])
def test_a_study_that_is_not_open_neither_reserves_nor_stores(client, hits, status):
    hit = hits[0]
    url = f"/mturk/task/{hit.request_token}/"
    html = client.get(url, frame_params(hit, *REAL[0])).content.decode()
    study = hit.study_neuron.study
    study.status = status
    study.save()
    before = counts()

    page = client.get(url, frame_params(hit, *REAL[1]))
    post = client.post(url, {**answer(read_task(html)), **frame_params(hit, *REAL[0])})

    assert page.status_code == 403 and f"This study is {status}" in page.content.decode()
    assert post.status_code == 403
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name,value", [
    ("workerId", "A/B"), ("workerId", "W" * 65), ("assignmentId", "3" * 65), ("assignmentId", "x" * 1_000_000),
    ("hitId", "a b"), ("workerId", "A\x00B"),
])
def test_malformed_ids_are_refused_without_echo_or_rows(client, hits, name, value):
    hit = hits[0]
    before = counts()
    page = client.get(f"/mturk/task/{hit.request_token}/", {**frame_params(hit, *REAL[0]), name: value})
    assert page.status_code == 400
    body = page.content.decode()
    assert (name in body or "NUL" in body) and len(body) < 2000
    assert counts() == before


@pytest.mark.django_db
def test_new_pairs_from_one_address_are_limited(client, hits, settings):
    settings.NEW_RATERS_PER_CLIENT = 2
    hit = hits[0]
    codes = [client.get(f"/mturk/task/{hit.request_token}/", frame_params(hit, f"3LIM{i}", f"ALIM{i}")).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    assert Rater.objects.count() == 2
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert other.get(f"/mturk/task/{hit.request_token}/", frame_params(hit, "3OTHER", "AOTHER")).status_code == 200
