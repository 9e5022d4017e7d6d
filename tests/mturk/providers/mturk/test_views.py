"""The task page as MTurk's worker frame loads it: preview, accept, submit, resubmit."""
import re
import time

import pytest
from django.test import Client

from evaluation.models import Response
from mturk.models import Hit, Publication
from mturk.providers.mturk.provider import MTurkProvider
from tests.evaluation.helpers import answer, read_task

from .conftest import frame_params

pytestmark = pytest.mark.crowd

@pytest.mark.django_db
def test_preview_shows_images_and_descriptions_with_the_form_disabled(client, hits):
    hit = hits[0]
    page = client.get(f"/mturk/task/{hit.request_token}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": hit.hit_id})

    html = page.content.decode()
    assert page.status_code == 200
    assert "accept the HIT" in html
    assert html.count("<img ") == 10
    assert len(read_task(html)["texts"]) == 3
    assert len(re.findall(r'type="radio"[^>]* disabled', html)) == 3 * 5 + 3
    assert "netdissect" not in html.lower() and "shuffled-control" not in html.lower()
    assert "round &lt;b&gt;shapes&lt;/b&gt;" in html and "<b>shapes" not in html
    assert "X-Frame-Options" not in page.headers  # MTurk frames this page, and only MTurk's sites may
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://worker.mturk.com https://workersandbox.mturk.com https://www.mturk.com" in policy
    # The rest of the site's policy still holds inside the frame; the answer may be posted back to MTurk.
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "object-src 'none'" in policy
    assert "form-action 'self' https://workersandbox.mturk.com https://www.mturk.com" in policy
    assert hit.study_neuron.study.raters.count() == 0  # a preview makes no rater


@pytest.mark.django_db
def test_other_pages_still_refuse_to_be_framed(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/mturk/studies/crowd/")
    assert page.headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_accept_submit_and_hand_back_to_mturk_then_a_second_submit_stores_nothing(hits):
    # Inside MTurk's frame the browser sends no CSRF cookie of this site: the post must still work.
    client = Client(enforce_csrf_checks=True)
    hit = hits[0]
    params = frame_params(hit)
    page = client.get(f"/mturk/task/{hit.request_token}/", params)
    html = page.content.decode()
    assert page.status_code == 200 and "Preview" not in html
    # Never kept by the browser, never filled in by it: Back or a reload shows the worker's task as it stands.
    assert "no-store" in page["Cache-Control"] and re.search(r'<form[^>]*class="rating-form" autocomplete="off"', html)
    task = read_task(html)
    form = {**answer(task), **params}

    done = client.post(f"/mturk/task/{hit.request_token}/", form)

    response = Response.objects.get()
    # Keyed to worker and assignment, and unverified until harvest finds them together on MTurk.
    assert (response.source, response.external_id, response.rater.external_id) == (
        "mturk", params["assignmentId"], f"WORKERA:{params['assignmentId']}"
    )
    assert response.ratings.count() == 3 and response.is_valid and not response.verified
    assert response.shown_at is not None and response.seconds >= 0  # time on task for MTurk answers too
    assert done.status_code == 200
    body = done.content.decode()
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in body
    assert f'name="assignmentId" value="{params["assignmentId"]}"' in body

    again = client.post(f"/mturk/task/{hit.request_token}/", form)
    assert again.status_code == 200
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in again.content.decode()
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_an_invalid_form_is_refused_with_its_reason_and_nothing_is_stored(client, hits):
    hit = hits[0]
    params = frame_params(hit)
    html = client.get(f"/mturk/task/{hit.request_token}/", params).content.decode()
    task = read_task(html)
    form = {**answer(task), **params}
    del form[f"rating-{task['slots'][1]}"]

    page = client.post(f"/mturk/task/{hit.request_token}/", form)

    assert page.status_code == 400
    assert "description 2 has no rating" in page.content.decode()
    assert Response.objects.count() == 0
    # The refused form comes back with the worker's other choices still made.
    kept = page.content.decode()
    assert re.search(rf'name="rating-{task["slots"][0]}" value="5" required checked', kept)
    assert re.search(rf'name="best" value="{task["slots"][0]}" required checked', kept)


@pytest.mark.django_db
def test_a_post_without_the_claim_of_this_assignment_is_refused(client, hits):
    hit = hits[0]
    params = frame_params(hit)
    task = read_task(client.get(f"/mturk/task/{hit.request_token}/", params).content.decode())

    page = client.post(f"/mturk/task/{hit.request_token}/", {**answer(task), **params, "claim": "forged"})

    assert page.status_code == 400
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_the_same_worker_cannot_answer_the_same_neuron_twice_across_hits(client, hits, crowd_study):
    first = hits[0]
    params = frame_params(first)
    html = client.get(f"/mturk/task/{first.request_token}/", params).content.decode()
    client.post(f"/mturk/task/{first.request_token}/", {**answer(read_task(html)), **params})
    MTurkProvider(first.publication)._confirm_response(first, params["assignmentId"], "WORKERA")  # as harvest does
    # A second HIT of the same neuron (e.g. the study republished in production).
    production = Publication.objects.create(study=crowd_study, provider="mturk", production=True)
    second = Hit.objects.create(
        publication=production, study_neuron=first.study_neuron, request_token="ne-prod0",
        hit_id="3NEURONPRODHIT0000000000000000", max_assignments=3, status="published",
    )

    page = client.get(f"/mturk/task/{second.request_token}/", frame_params(second, assignment="3ASSIGNMENT0000000000000000009"))

    assert page.status_code == 409
    assert "already rated" in page.content.decode()
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_a_page_opened_outside_mturk_or_posting_elsewhere_is_refused(client, hits):
    hit = hits[0]
    page = client.get(f"/mturk/task/{hit.request_token}/", {**frame_params(hit), "turkSubmitTo": "https://evil.example.com"})
    assert page.status_code == 400
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_with_s3_storage_the_frame_shows_presigned_image_urls_that_outlive_the_hit(client, hits, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "neuron-images", "region_name": "us-east-1", "querystring_auth": True,
                        "querystring_expire": 7 * 24 * 3600},
        },
    }
    hit = hits[0]

    html = client.get(f"/mturk/task/{hit.request_token}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE"}).content.decode()

    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 10
    assert all(url.startswith("https://neuron-images.s3.amazonaws.com/probes/") for url in images)
    expiries = [int(re.search(r"Expires=(\d+)", url).group(1)) for url in images]
    assert min(expiries) - time.time() >= 7 * 24 * 3600 - 60  # presigned for the HIT's 7-day lifetime


PROMPT_RE = re.compile(r'name="consistency_prompt" value="([^"]+)"')


@pytest.mark.django_db
def test_the_consistency_prompt_works_inside_the_mturk_frame_and_is_recorded(hits, crowd_study):
    from evaluation.models import Study

    Study.objects.filter(pk=crowd_study.pk).update(consistency_prompt=True)
    client = Client(enforce_csrf_checks=True)
    hit = hits[0]
    params = frame_params(hit)
    task = read_task(client.get(f"/mturk/task/{hit.request_token}/", params).content.decode())
    inconsistent = {**answer(task, values=[5, 3, 2], best_index=1), **params}

    prompted = client.post(f"/mturk/task/{hit.request_token}/", inconsistent)

    html = prompted.content.decode()
    assert prompted.status_code == 200 and Response.objects.count() == 0
    assert "You picked description 2 as the best, but rated description 1 higher (5 against 3)" in html
    assert re.search(rf'name="best" value="{task["slots"][1]}" required checked', html)
    assert 'name="claim"' in html  # the page still carries its claim, so the kept answer can be posted
    kept = client.post(f"/mturk/task/{hit.request_token}/", {**inconsistent, "claim": read_task(html)["claim"],
                                                              "consistency_prompt": PROMPT_RE.search(html).group(1)})
    assert kept.status_code == 200 and "externalSubmit" in kept.content.decode()
    response = Response.objects.get()
    assert not response.is_valid and response.consistency_prompt.startswith("You picked description 2 as the best")
