"""A labelling study through the crowd entry points (MTurk's frame, a Prolific session): the same pages and
services as a rating study, with the labelling form."""
import re
from decimal import Decimal

import pytest
from django.test import Client

from evaluation.models import ImageAnswer, Response
from evaluation.services import create_study
from mturk.models import Hit, ProlificDesign, Publication
from mturk.publications import open_publication
from tests.evaluation.conftest import METHOD_NAMES, build_explained_network
from tests.evaluation.helpers import label_every_image

from .providers.prolific.conftest import drafted

pytestmark = pytest.mark.crowd

CLAIM_RE = re.compile(r'name="claim" value="([^"]+)"')
TEXTS = {"netdissect": "red <b>circles</b>", "clip-dissect-annotations": "round shapes"}


@pytest.fixture
def labelling_study(db):
    network = build_explained_network(layers=("layer1",), units_per_layer=1, images=12, texts=TEXTS)
    return create_study("crowd-labels", network=network, methods=METHOD_NAMES[:2], per_layer=1, kind="labelling",
                        top_images_per_task=3, random_images_per_task=2, raters_per_neuron=1)


@pytest.fixture
def hit(labelling_study):
    publication = open_publication(labelling_study, Publication.Provider.MTURK)
    study_neuron = labelling_study.study_neurons.get(method__name="netdissect")
    return Hit.objects.create(publication=publication, study_neuron=study_neuron, request_token="ne-hit0",
                              hit_id="3NEURONHIT00000000000000000000", max_assignments=1, status=Hit.Status.PUBLISHED)


def test_mturk_frame_previews_then_takes_a_labelling_answer(hit):
    client = Client(enforce_csrf_checks=True)  # no CSRF cookie inside MTurk's frame: the claim stands in
    url = f"/mturk/task/{hit.request_token}/"
    preview = client.get(url, {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": hit.hit_id}).content.decode()
    assert "Does this image show:" in preview and "red &lt;b&gt;circles&lt;/b&gt;" in preview
    assert len(re.findall(r'type="radio"[^>]* disabled', preview)) == 5 * 2
    assert "netdissect" not in preview and "random" not in preview.lower()

    params = {"assignmentId": "3ASSIGNMENT0000000000000000001", "hitId": hit.hit_id, "workerId": "WORKERA",
              "turkSubmitTo": "https://workersandbox.mturk.com"}
    page = client.get(url, params).content.decode()
    form = {**label_every_image(page), **params, "claim": CLAIM_RE.search(page).group(1)}
    incomplete = {key: value for key, value in form.items() if key != "shows-0"}
    refused = client.post(url, incomplete)
    assert refused.status_code == 400 and "image 1 has no answer" in refused.content.decode()
    assert not Response.objects.exists()

    done = client.post(url, form)
    assert done.status_code == 200 and "mturk/externalSubmit" in done.content.decode()
    response = Response.objects.get()
    assert (response.source, response.verified, response.image_answers.count()) == ("mturk", False, 5)


def test_a_prolific_participant_labels_a_batch_and_gets_the_code(client, labelling_study):
    publication = Publication.objects.create(
        study=labelling_study, provider=Publication.Provider.PROLIFIC, reward=Decimal("0.50"), title="Label images",
        description="Say whether images show a short description.",
    )
    ProlificDesign.objects.create(publication=publication, batch_size=2, estimated_minutes=5, completion_code="C0DE1234")
    drafted(publication)
    entry = client.get(f"/prolific/{publication.pk}/start/", {"PROLIFIC_PID": "PIDA", "STUDY_ID": "STUDY1", "SESSION_ID": "SUB1"})
    task_url = entry["Location"]
    for number in (1, 2):
        page = client.get(task_url).content.decode()
        assert f"{number} of 2" in page and "Does this image show:" in page
        posted = client.post(task_url, {**label_every_image(page, lambda place: "yes"), "claim": CLAIM_RE.search(page).group(1)})
        assert posted.status_code == 302
    assert "C0DE1234" in client.get(task_url, follow=True).content.decode()
    assert ImageAnswer.objects.filter(shows=True).count() == 10
    assert set(Response.objects.values_list("source", flat=True)) == {"prolific"}
