"""Prolific over its REST API, with httpx.MockTransport playing the server, and a participant's session."""
import json
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest

from evaluation.models import Response
from mturk.models import CrowdAssignment, LedgerEntry, ParticipantSession, Publication
from mturk.providers.prolific.client import ProlificClient, ProlificError
from mturk.providers.prolific.provider import ProlificProvider

from tests.mturk.helpers import answer_as_worker

from .conftest import awaiting_review, drafted

pytestmark = pytest.mark.crowd

API = "https://api.prolific.com/api/v1/"


class FakeProlific:
    """Answers each request from a script of (method, url, json body, answer) and records what was sent."""

    def __init__(self, script):
        self.script = list(script)
        self.sent = []

    def __call__(self, request):
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, str(request.url), body, request.headers["Authorization"]))
        method, url, expected_body, answer_json = self.script.pop(0)
        assert (request.method, str(request.url), body) == (method, url, expected_body)
        return httpx.Response(200, json=answer_json)

    def provider(self, publication):
        client = ProlificClient(token="test-token", transport=httpx.MockTransport(self))
        return ProlificProvider(publication, client=client)


def draft_payload(publication):
    return {
        "name": "Rate image descriptions",
        "internal_name": f"crowd [{publication.pk}]",
        "description": "Rate how well short descriptions fit sets of images.",
        "external_study_url": (
            f"https://ratings.example.org/prolific/{publication.pk}/start/"
            "?PROLIFIC_PID={%PROLIFIC_PID%}&STUDY_ID={%STUDY_ID%}&SESSION_ID={%SESSION_ID%}"
        ),
        "prolific_id_option": "url_parameters",
        "completion_codes": [{"code": "C0DE1234", "code_type": "COMPLETED", "actions": [{"action": "MANUALLY_REVIEW"}]}],
        "total_available_places": 3,  # 2 neurons x 3 raters / batches of 2
        "estimated_completion_time": 5,
        "reward": 100,  # cents: 2 responses x $0.50
        "device_compatibility": ["desktop", "tablet", "mobile"],
    }


@pytest.mark.django_db
def test_publish_creates_a_draft_then_publishes_it(prolific_publication):
    server = FakeProlific([
        ("POST", API + "studies/", draft_payload(prolific_publication), {"id": "STUDY1", "status": "UNPUBLISHED"}),
        ("POST", API + "studies/STUDY1/transition/", {"action": "PUBLISH"}, {"id": "STUDY1", "status": "ACTIVE"}),
    ])

    server.provider(prolific_publication).publish()

    prolific_publication.refresh_from_db()
    assert prolific_publication.prolific_design.prolific_study_id == "STUDY1"
    assert prolific_publication.published_at is not None
    assert server.script == [] and {auth for *_, auth in server.sent} == {"Token test-token"}
    assert list(LedgerEntry.objects.values_list("operation", "state")) == [
        ("ProlificCreateStudy", "done"), ("ProlificPublish", "done")
    ]


@pytest.mark.django_db
def test_a_reward_below_prolifics_hourly_minimum_is_refused_before_any_request(prolific_publication):
    Publication.objects.filter(pk=prolific_publication.pk).update(reward=Decimal("0.08"))
    prolific_publication.refresh_from_db()
    server = FakeProlific([])
    with pytest.raises(ProlificError, match=r"pays \$1.92 an hour.*minimum is \$8.00"):
        server.provider(prolific_publication).publish()
    assert server.sent == []


def test_a_missing_api_token_names_the_variable(monkeypatch):
    monkeypatch.delenv("PROLIFIC_API_TOKEN", raising=False)
    with pytest.raises(ProlificError, match="PROLIFIC_API_TOKEN is not set"):
        ProlificClient()


def submission(n, participant, status="AWAITING REVIEW"):
    return {"id": f"SUB{n}", "participant_id": participant, "status": status,
            "started_at": "2026-11-20T10:00:00Z", "completed_at": "2026-11-20T10:06:00Z"}


def session_with_answers(publication, participant, session_id, valid=(True, True)):
    for study_neuron, is_valid in zip(publication.study.study_neurons.order_by("order"), valid):
        response = answer_as_worker(study_neuron, participant, session_id, valid=is_valid, kind="prolific", source="prolific")
    ParticipantSession.objects.create(publication=publication, rater=response.rater, participant_id=participant, session_id=session_id)


@pytest.mark.django_db
def test_harvest_lists_submissions_over_two_pages_and_links_each_batch(prolific_publication):
    drafted(prolific_publication)
    session_with_answers(prolific_publication, "PIDA", "SUB1")
    page_2 = API + "submissions/?" + urlencode({"study": "STUDY1", "page": 2, "page_size": 100})
    server = FakeProlific([
        ("GET", API + "submissions/?study=STUDY1&page_size=100", None,
         {"results": [submission(1, "PIDA")], "_links": {"next": {"href": page_2}}}),
        ("GET", page_2, None, {"results": [submission(2, "PIDB")], "_links": {"next": {"href": None}}}),
    ])

    report = server.provider(prolific_publication).harvest()

    records = {r.external_id: r for r in CrowdAssignment.objects.all()}
    assert records["SUB1"].responses.count() == 2 and not records["SUB1"].response_missing
    assert records["SUB2"].response_missing
    assert report.warnings == ["submission SUB2 was completed on Prolific but no response reached this site"]


@pytest.mark.django_db
def test_review_approves_and_rejects_by_the_validity_policy(prolific_publication):
    Publication.objects.filter(pk=prolific_publication.pk).update(
        invalid_policy="reject", reject_message="Most of your best picks contradict your ratings."
    )
    drafted(prolific_publication)
    session_with_answers(prolific_publication, "PIDA", "SUB1", valid=(True, False))
    session_with_answers(prolific_publication, "PIDB", "SUB2", valid=(False, False))
    awaiting_review(prolific_publication, ["PIDA", "PIDB"])
    server = FakeProlific([
        ("POST", API + "submissions/SUB1/transition/", {"action": "APPROVE"}, {"status": "APPROVED"}),
        ("POST", API + "submissions/SUB2/transition/",
         {"action": "REJECT", "message": "Most of your best picks contradict your ratings.", "rejection_category": "FAILED_CHECK"},
         {"status": "REJECTED"}),
    ])

    server.provider(prolific_publication).review()

    assert dict(CrowdAssignment.objects.values_list("external_id", "decision")) == {"SUB1": "approve", "SUB2": "reject"}
    assert server.script == []


@pytest.mark.django_db
def test_review_does_not_pay_a_batch_that_was_not_finished(prolific_publication):
    drafted(prolific_publication)
    session_with_answers(prolific_publication, "PIDA", "SUB1", valid=(True,))  # 1 of a batch of 2
    record = CrowdAssignment.objects.create(
        publication=prolific_publication, external_id="SUB1", worker_id="PIDA", provider_status="AWAITING REVIEW"
    )
    record.responses.set(Response.objects.filter(external_id="SUB1"))
    server = FakeProlific([])

    report = server.provider(prolific_publication).review()

    assert report.warnings == [
        "submission SUB1: 1 of 2 tasks answered and the batch was not finished; not approved automatically, decide on Prolific"
    ]
    assert CrowdAssignment.objects.get().decision == "" and server.sent == []


@pytest.mark.django_db
def test_bonus_is_set_up_and_paid_once(prolific_publication):
    drafted(prolific_publication)
    CrowdAssignment.objects.create(publication=prolific_publication, external_id="SUB1", worker_id="PIDA", provider_status="APPROVED")
    server = FakeProlific([
        ("POST", API + "submissions/bonus-payments/", {"study_id": "STUDY1", "csv_bonuses": "PIDA,0.40\n"}, {"id": "BULK1"}),
        ("POST", API + "bulk-bonus-payments/BULK1/pay/", None, {}),
    ])
    provider = server.provider(prolific_publication)

    provider.bonus("PIDA", "0.40", "careful work")
    provider.bonus("PIDA", "0.40", "careful work")  # recorded as paid: no request

    assert len(server.sent) == 2
    assert LedgerEntry.objects.get(operation="ProlificBonusPay").amount == Decimal("0.40")


@pytest.mark.django_db
def test_estimate_asks_prolifics_cost_calculator(prolific_publication):
    server = FakeProlific([
        ("POST", API + "study-cost-calculator/", {"reward": 100, "total_available_places": 3}, {"total_cost": 400.0}),
    ])

    estimate = server.provider(prolific_publication).estimate()

    assert (estimate.reward_total, estimate.fee_total, estimate.total) == (Decimal("3.00"), Decimal("1.00"), Decimal("4.00"))


@pytest.mark.django_db
def test_a_bonus_payment_cut_off_by_a_crash_is_never_paid_again_automatically(prolific_publication, monkeypatch):
    from mturk import ledger
    from mturk.ledger import LedgerConflict

    drafted(prolific_publication)
    CrowdAssignment.objects.create(publication=prolific_publication, external_id="SUB1", worker_id="PIDA", provider_status="APPROVED")
    server = FakeProlific([
        ("POST", API + "submissions/bonus-payments/", {"study_id": "STUDY1", "csv_bonuses": "PIDA,0.40\n"}, {"id": "BULK1"}),
        ("POST", API + "bulk-bonus-payments/BULK1/pay/", None, {}),
    ])
    real_finish = ledger._finish

    def crash_when_payment_returns(entry, result):
        if entry.operation == "ProlificBonusPay":
            raise RuntimeError("killed")
        return real_finish(entry, result)

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(ledger, "_finish", crash_when_payment_returns)
        server.provider(prolific_publication).bonus("PIDA", "0.40", "careful work")

    with pytest.raises(LedgerConflict, match="ProlificBonusPay BULK1 was started .* never recorded"):
        server.provider(prolific_publication).bonus("PIDA", "0.40", "careful work")
    assert len(server.sent) == 2  # the payment was sent once, and only once
