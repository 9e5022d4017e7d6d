"""Publishing HITs: exact CreateHIT requests, the ExternalQuestion, and a retry after a crash."""
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from mturk import ledger
from mturk.models import DesignFrozen, Hit, LedgerEntry, MTurkDesign
from mturk.providers.mturk.hits import EXTERNAL_QUESTION_NAMESPACE, create_hit_request, new_hit_token
from tests.mturk.conftest import fixed_hit_token
from mturk.providers.mturk.provider import MTurkError, MTurkProvider
from mturk.publications import open_publication

pytestmark = pytest.mark.crowd

EXPIRATION = datetime(2099, 12, 1, tzinfo=timezone.utc)
REFERENCE_QUALIFICATIONS = [
    {"QualificationTypeId": "00000000000000000071", "Comparator": "EqualTo", "LocaleValues": [{"Country": "US"}]},
    {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThan", "IntegerValues": [98]},
    {"QualificationTypeId": "00000000000000000040", "Comparator": "GreaterThan", "IntegerValues": [10000]},
]


def hit_id(n):
    return f"3NEURONHIT{n:020d}"


def expected_create_hit(token):
    return {
        "MaxAssignments": 3,
        "AutoApprovalDelayInSeconds": 259200,
        "LifetimeInSeconds": 604800,
        "AssignmentDurationInSeconds": 1200,
        "Reward": "0.08",
        "Title": "Rate how well descriptions match a set of images",
        "Keywords": "image, rating, description, research",
        "Description": "Look at 10 images and rate how well each short description describes them.",
        "Question": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
            f"<ExternalURL>https://ratings.example.org/mturk/task/{token}/</ExternalURL>"
            "<FrameHeight>0</FrameHeight>"
            "</ExternalQuestion>"
        ),
        "RequesterAnnotation": token,
        "QualificationRequirements": REFERENCE_QUALIFICATIONS,
        "UniqueRequestToken": token,
    }


def hit_answer(n, token):
    return {"HIT": {"HITId": hit_id(n), "HITTypeId": "3NEURONTYPE0000000000000000000", "Expiration": EXPIRATION,
                    "RequesterAnnotation": token, "MaxAssignments": 3}}


def tokens(publication):
    return [fixed_hit_token(n) for n in range(publication.study.study_neurons.count())]


@pytest.fixture(autouse=True)
def _fixed_tokens(fixed_hit_tokens):
    pass


@pytest.mark.django_db
def test_publish_creates_one_hit_per_neuron_with_the_reference_worker_filter(publication, stubbed_mturk):
    client, stubber = stubbed_mturk
    for n, token in enumerate(tokens(publication)):
        stubber.add_response("create_hit", hit_answer(n, token), expected_create_hit(token))

    report = MTurkProvider(publication).publish(show_progress=False)

    hits = list(publication.hits.order_by("study_neuron__order"))
    assert [h.hit_id for h in hits] == [hit_id(0), hit_id(1)]
    assert {h.status for h in hits} == {Hit.Status.PUBLISHED}
    assert all(h.expires_at == EXPIRATION for h in hits)
    assert [a.verb for a in report.actions] == ["published HIT", "published HIT"]
    assert list(LedgerEntry.objects.values_list("operation", "state")) == [("CreateHIT", "done")] * 2


@pytest.mark.django_db
def test_publishing_freezes_the_design_before_the_first_hit_is_sent(publication, stubbed_mturk):
    client, stubber = stubbed_mturk
    first, _ = tokens(publication)
    stubber.add_response("create_hit", hit_answer(0, first), expected_create_hit(first))
    assert publication.published_at is None

    MTurkProvider(publication).publish(show_progress=False, limit=1)

    publication.refresh_from_db()
    assert publication.published_at is not None
    with pytest.raises(DesignFrozen):
        open_publication(publication.study, "mturk", reward=Decimal("0.50"))


@pytest.mark.django_db
def test_publishing_again_creates_nothing_more(publication, stubbed_mturk):
    client, stubber = stubbed_mturk
    for n, token in enumerate(tokens(publication)):
        stubber.add_response("create_hit", hit_answer(n, token), expected_create_hit(token))
    MTurkProvider(publication).publish(show_progress=False)

    report = MTurkProvider(publication).publish(show_progress=False)  # the stubber would refuse any request

    assert report.actions == []
    assert publication.hits.count() == 2


def test_hit_tokens_are_random_and_fit_mturk():
    made = {new_hit_token() for _ in range(1000)}
    assert len(made) == 1000
    assert all(len(token) <= 64 and token.startswith("ne-") and len(token) >= 40 for token in made)


def test_external_question_has_the_schema_namespace_url_and_frame_height(publication):
    study_neuron = publication.study.study_neurons.first()
    request = create_hit_request(publication, MTurkDesign(frame_height=900), study_neuron, "ne-abc", 3)

    root = ET.fromstring(request["Question"].encode())

    assert root.tag == f"{{{EXTERNAL_QUESTION_NAMESPACE}}}ExternalQuestion"
    assert EXTERNAL_QUESTION_NAMESPACE.endswith("/2006-07-14/ExternalQuestion.xsd")
    assert [child.tag.split("}")[1] for child in root] == ["ExternalURL", "FrameHeight"]
    url = urlsplit(root.find(f"{{{EXTERNAL_QUESTION_NAMESPACE}}}ExternalURL").text)
    assert (url.scheme, url.netloc, url.path) == ("https", "ratings.example.org", "/mturk/task/ne-abc/")
    assert int(root.find(f"{{{EXTERNAL_QUESTION_NAMESPACE}}}FrameHeight").text) == 900


@pytest.mark.django_db
def test_a_site_without_https_is_refused_before_any_hit_is_made(publication, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    with pytest.raises(ValueError, match="HTTPS"):
        create_hit_request(publication, MTurkDesign(), publication.study.study_neurons.first(), "ne-abc", 3)


def publish_crashing_after_mturk_made_the_first_hit(publication, stubber, monkeypatch, **publish_options):
    """Publish once, with the process dying right after MTurk answered the first CreateHIT (before it was
    recorded as done); returns the study's two HIT tokens."""
    first, second = tokens(publication)
    stubber.add_response("create_hit", hit_answer(0, first), expected_create_hit(first))
    real_finish = ledger._finish
    calls = {"n": 0}

    def finish_then_crash(entry, result):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("power cut after MTurk answered")
        return real_finish(entry, result)

    monkeypatch.setattr(ledger, "_finish", finish_then_crash)
    with pytest.raises(RuntimeError):
        MTurkProvider(publication).publish(show_progress=False, **publish_options)
    return first, second


@pytest.mark.django_db
def test_publish_retried_after_a_crash_finds_the_hit_instead_of_making_a_second(publication, stubbed_mturk, monkeypatch):
    client, stubber = stubbed_mturk
    first, second = publish_crashing_after_mturk_made_the_first_hit(publication, stubber, monkeypatch)
    assert LedgerEntry.objects.get().state == LedgerEntry.State.PENDING
    assert publication.hits.get().status == Hit.Status.CREATING

    # The retry asks MTurk for the HIT made under this token, then goes on with the next neuron.
    stubber.add_response("list_hits", {"HITs": [hit_answer(0, first)["HIT"]], "NumResults": 1}, {})
    stubber.add_response("create_hit", hit_answer(1, second), expected_create_hit(second))
    MTurkProvider(publication).publish(show_progress=False)

    assert sorted(publication.hits.values_list("hit_id", flat=True)) == [hit_id(0), hit_id(1)]
    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {"done"}


@pytest.mark.django_db
def test_a_duplicate_token_answer_is_resolved_by_looking_the_hit_up(publication, stubbed_mturk, monkeypatch):
    client, stubber = stubbed_mturk
    first, _ = publish_crashing_after_mturk_made_the_first_hit(publication, stubber, monkeypatch, limit=1)

    # ListHITs does not show the new HIT yet, so CreateHIT is sent again with the same token:
    # MTurk refuses it as a duplicate, naming the HIT, which is then read with GetHIT.
    stubber.add_response("list_hits", {"HITs": [], "NumResults": 0}, {})
    stubber.add_client_error(
        "create_hit",
        service_error_code="RequestError",
        service_message=f"AWS.MechanicalTurk.HitAlreadyExists: There is already a HIT with this UniqueRequestToken: {hit_id(0)}",
        http_status_code=400,
        expected_params=expected_create_hit(first),
    )
    stubber.add_response("get_hit", hit_answer(0, first), {"HITId": hit_id(0)})
    MTurkProvider(publication).publish(show_progress=False, limit=1)

    assert list(publication.hits.values_list("hit_id", "status")) == [(hit_id(0), "published")]
    assert LedgerEntry.objects.get().state == LedgerEntry.State.DONE


@pytest.mark.django_db
def test_presigned_image_urls_must_outlive_the_hit(publication, settings, stubbed_mturk):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "neuron-images", "querystring_auth": True, "querystring_expire": 3600},
        },
    }
    with pytest.raises(MTurkError, match="presigned image URLs expire after 3600 s but the HIT lives 604800 s"):
        MTurkProvider(publication).publish(show_progress=False)
    assert publication.hits.count() == 0
