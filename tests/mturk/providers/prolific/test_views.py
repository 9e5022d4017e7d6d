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


@pytest.mark.django_db
def test_a_batch_ends_after_the_attention_checks_planned_within_it(client):
    from decimal import Decimal

    from evaluation.services import create_study
    from mturk.models import ProlificDesign, Publication
    from tests.evaluation.conftest import METHOD_NAMES
    from tests.evaluation.test_attention_checks import build_concept_network

    study = create_study("checked", network=build_concept_network(), methods=METHOD_NAMES, per_layer=10,
                         raters_per_neuron=10, images_per_task=4, attention_check_every=3)
    publication = Publication.objects.create(study=study, provider=Publication.Provider.PROLIFIC, reward=Decimal("0.50"),
                                             title="Rate", description="Rate descriptions.")
    ProlificDesign.objects.create(publication=publication, batch_size=2, estimated_minutes=5, completion_code="C0DE1234")
    drafted(publication)

    # Batches of two real tasks with a check every three tasks: one check in each batch, wherever it falls.
    for number in range(8):
        entry = client.get(f"/prolific/{publication.pk}/start/",
                           {"PROLIFIC_PID": f"PID{number}", "STUDY_ID": "STUDY1", "SESSION_ID": f"SUB{number}"})
        counters = []
        for _ in range(5):
            page = client.get(entry["Location"], follow=True)
            html = page.content.decode()
            if "C0DE1234" in html:
                break
            counters.append(re.search(r'class="progress">(\d+ of \d+)<', html).group(1))
            assert client.post(entry["Location"], answer(read_task(html))).status_code == 302
        assert counters == ["1 of 3", "2 of 3", "3 of 3"], f"participant {number}"
        answered = Response.objects.filter(rater__external_id=f"PID{number}")
        assert answered.filter(is_check=False).count() == 2 and answered.filter(is_check=True).count() == 1


@pytest.mark.django_db
def test_the_consistency_prompt_works_in_a_prolific_session_and_is_recorded(client, prolific_publication):
    from evaluation.models import Study

    drafted(prolific_publication)
    Study.objects.filter(pk=prolific_publication.study_id).update(consistency_prompt=True)
    entry = client.get(f"/prolific/{prolific_publication.pk}/start/",
                       {"PROLIFIC_PID": "PIDA", "STUDY_ID": "STUDY1", "SESSION_ID": "SUB1"})
    task = read_task(client.get(entry["Location"]).content.decode())

    prompted = client.post(entry["Location"], answer(task, values=[2, 5, 3], best_index=0))

    html = prompted.content.decode()
    assert prompted.status_code == 200 and Response.objects.count() == 0
    assert "You picked description 1 as the best, but rated description 2 higher (5 against 2)" in html
    signed = re.search(r'name="consistency_prompt" value="([^"]+)"', html).group(1)
    changed = client.post(entry["Location"], answer(read_task(html), values=[2, 5, 3], best_index=1, consistency_prompt=signed))
    assert changed.status_code == 302
    response = Response.objects.get()
    assert response.is_valid and response.consistency_prompt.startswith("You picked description 1 as the best")
