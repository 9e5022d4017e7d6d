"""A Prolific participant's pages: entry from Prolific, the batch, the completion code (under /prolific/)."""
import re

import pytest

from evaluation.models import Response
from mturk.models import ParticipantSession
from tests.evaluation.helpers import answer, read_task

from .conftest import drafted

pytestmark = pytest.mark.crowd


@pytest.mark.django_db
def test_a_participant_goes_from_the_entry_url_to_the_completion_code(client, prolific_publication):
    drafted(prolific_publication)
    entry = client.get(
        f"/prolific/{prolific_publication.pk}/start/",
        {"PROLIFIC_PID": "PIDA", "STUDY_ID": "STUDY1", "SESSION_ID": "SUB1"},
    )
    assert entry.status_code == 302
    task_url = entry["Location"]

    for number in (1, 2):
        page = client.get(task_url)
        html = page.content.decode()
        assert page.status_code == 200 and f"{number} of 2" in html
        assert "no-store" in page["Cache-Control"] and re.search(r'<form[^>]*class="rating-form" autocomplete="off"', html)
        posted = client.post(task_url, {**answer(read_task(html))})
        assert posted.status_code == 302

    done = client.get(task_url, follow=True)
    html = done.content.decode()
    assert "C0DE1234" in html
    assert 'href="https://app.prolific.com/submissions/complete?cc=C0DE1234"' in html
    responses = Response.objects.filter(rater__external_id="PIDA")
    assert responses.count() == 2 and set(responses.values_list("source", "external_id")) == {("prolific", "SUB1")}
    # Time on task, first shown to submitted, is recorded for Prolific answers as for any other.
    assert all(r.shown_at is not None and r.seconds is not None and r.seconds >= 0 for r in responses)
    assert ParticipantSession.objects.get().completed_at is not None


@pytest.mark.django_db
def test_an_entry_url_without_prolific_parameters_is_refused(client, prolific_publication):
    page = client.get(f"/prolific/{prolific_publication.pk}/start/", {"PROLIFIC_PID": "PIDA"})
    assert page.status_code == 400
    assert "STUDY_ID, SESSION_ID" in page.content.decode()


@pytest.mark.django_db
def test_participant_pages_are_not_under_mturk(client, prolific_publication):
    drafted(prolific_publication)
    params = {"PROLIFIC_PID": "PIDA", "STUDY_ID": "STUDY1", "SESSION_ID": "SUB1"}
    assert client.get(f"/mturk/prolific/{prolific_publication.pk}/start/", params).status_code == 404
    entry = client.get(f"/prolific/{prolific_publication.pk}/start/", params)
    assert entry.status_code == 302 and entry["Location"] == "/prolific/session/SUB1/"
    assert client.get("/mturk/prolific/session/SUB1/").status_code == 404
