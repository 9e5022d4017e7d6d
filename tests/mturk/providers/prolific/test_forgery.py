"""Prolific entry points under attack: no completion code without the work, malformed ids, floods."""
import re

import pytest
from django.test import Client

from evaluation.models import Assignment, Rater, Rating, Response
from mturk.models import ParticipantSession

from tests.evaluation.helpers import answer, read_task

from .conftest import drafted

pytestmark = [pytest.mark.crowd, pytest.mark.submission_safety]


def counts():
    return {model.__name__: model.objects.count() for model in (Rater, Assignment, Response, Rating, ParticipantSession)}


def start(client, publication, pid="PIDA", session="SUB1", study="STUDY1"):
    return client.get(f"/prolific/{publication.pk}/start/", {"PROLIFIC_PID": pid, "STUDY_ID": study, "SESSION_ID": session})


@pytest.mark.django_db
def test_the_completion_code_is_not_given_before_the_batch_is_done(client, prolific_publication):
    drafted(prolific_publication)
    start(client, prolific_publication)

    done = client.get("/prolific/session/SUB1/done/")

    assert done.status_code == 302 and done["Location"] == "/prolific/session/SUB1/"
    assert "C0DE1234" not in client.get("/prolific/session/SUB1/done/", follow=True).content.decode()
    assert ParticipantSession.objects.get().completed_at is None


@pytest.mark.django_db
def test_all_places_reserved_by_others_is_said_and_gives_no_code(client, prolific_publication):
    drafted(prolific_publication)
    study = prolific_publication.study
    study.raters_per_neuron = 1
    study.save()
    for n, session in enumerate(["SUBX", "SUBY"]):
        other = Client(REMOTE_ADDR=f"198.51.100.{n}")
        other.get(start(other, prolific_publication, pid=f"PIDX{n}", session=session)["Location"])

    page = client.get(start(client, prolific_publication)["Location"])

    assert page.status_code == 200
    assert "All remaining tasks are being worked on by other raters; try again in 30 minutes" in page.content.decode()
    assert "C0DE1234" not in client.get("/prolific/session/SUB1/done/", follow=True).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name,value", [
    ("SESSION_ID", "a/b"), ("PROLIFIC_PID", "P" * 65), ("SESSION_ID", "S" * 1_000_000), ("STUDY_ID", "x\x00y"),
])
def test_malformed_prolific_ids_are_refused_without_rows(client, prolific_publication, name, value):
    drafted(prolific_publication)
    before = counts()
    params = {"PROLIFIC_PID": "PIDA", "STUDY_ID": "STUDY1", "SESSION_ID": "SUB1", name: value}
    page = client.get(f"/prolific/{prolific_publication.pk}/start/", params)
    assert page.status_code == 400
    body = page.content.decode()
    assert (name in body or "NUL" in body) and len(body) < 2000
    assert counts() == before


@pytest.mark.django_db
def test_a_session_cannot_be_taken_over_by_another_participant(client, prolific_publication):
    drafted(prolific_publication)
    start(client, prolific_publication)
    before = counts()
    page = start(Client(), prolific_publication, pid="PIDEVIL")
    assert page.status_code == 400 and "another participant" in page.content.decode()
    assert counts() == before


@pytest.mark.django_db
def test_made_up_participants_from_one_address_are_limited(client, prolific_publication, settings):
    settings.NEW_RATERS_PER_CLIENT = 2
    drafted(prolific_publication)
    codes = [start(client, prolific_publication, pid=f"PID{i}", session=f"SUB{i}").status_code for i in range(3)]
    assert codes == [302, 302, 429]
    assert ParticipantSession.objects.count() == 2


@pytest.mark.django_db
def test_a_closed_study_starts_no_session(client, prolific_publication):
    drafted(prolific_publication)
    study = prolific_publication.study
    study.status = "closed"
    study.save()
    before = counts()
    assert start(client, prolific_publication).status_code == 403
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status,says", [("paused", "This study is paused"), ("closed", "It has closed"),
                                         ("draft", "It has not started yet")])
def test_a_study_that_is_not_open_neither_reserves_nor_stores_for_a_started_session(client, prolific_publication,
                                                                                    status, says):
    drafted(prolific_publication)
    task_url = start(client, prolific_publication)["Location"]
    html = client.get(task_url).content.decode()
    claim = re.search(r'name="claim" value="([^"]+)"', html).group(1)
    study = prolific_publication.study
    study.status = status
    study.save()
    Assignment.objects.all().delete()  # the reservation lapsed while the study was not open
    before = counts()

    page = client.get(task_url)
    post = client.post(task_url, {**answer(read_task(html)), "claim": claim})
    newcomer = start(Client(), prolific_publication, pid="PIDB", session="SUB2")

    for refused in (page, post, newcomer):
        assert refused.status_code == 403 and says in refused.content.decode()
    assert counts() == before
