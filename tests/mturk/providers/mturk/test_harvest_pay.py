"""Harvest over pages, review by validity, bonuses, top-ups, expiry: each checked request by request."""
import hashlib
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from mturk import ledger
from mturk.models import CrowdAssignment, Hit, HitAssignment, LedgerEntry, Publication
from mturk.providers.mturk.provider import EXPIRED_IN_THE_PAST, MTurkProvider

from tests.mturk.helpers import answer_as_worker

pytestmark = pytest.mark.crowd

ACCEPTED = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
SUBMITTED = datetime(2026, 11, 20, 10, 4, tzinfo=timezone.utc)


def hit_id(n):
    return f"3NEURONHIT{n:020d}"


def assignment_id(n):
    return f"3ASSIGNMENT{n:019d}"


def mturk_assignment(n, worker, hit, status="Submitted"):
    return {
        "AssignmentId": assignment_id(n), "WorkerId": worker, "HITId": hit, "AssignmentStatus": status,
        "AcceptTime": ACCEPTED, "SubmitTime": SUBMITTED,
    }


def get_hit_answer(hit, maximum=3, available=0, pending=0, completed=3):
    return {"HIT": {"HITId": hit, "MaxAssignments": maximum, "NumberOfAssignmentsAvailable": available,
                    "NumberOfAssignmentsPending": pending, "NumberOfAssignmentsCompleted": completed}}


@pytest.fixture
def published(publication):
    """The study's first neuron published as one HIT."""
    study_neuron = publication.study.study_neurons.order_by("order").first()
    return Hit.objects.create(
        publication=publication, study_neuron=study_neuron, request_token="ne-test", hit_id=hit_id(0),
        max_assignments=3, status=Hit.Status.PUBLISHED,
    )


def stub_harvest(stubber, hit):
    stubber.add_response("get_hit", get_hit_answer(hit), {"HITId": hit})
    statuses = ["Submitted", "Approved", "Rejected"]
    stubber.add_response(
        "list_assignments_for_hit",
        {"Assignments": [mturk_assignment(0, "WORKERA", hit), mturk_assignment(1, "WORKERB", hit)],
         "NextToken": "page-2", "NumResults": 2},
        {"HITId": hit, "AssignmentStatuses": statuses},
    )
    stubber.add_response(
        "list_assignments_for_hit",
        {"Assignments": [mturk_assignment(2, "WORKERC", hit)], "NumResults": 1},
        {"HITId": hit, "AssignmentStatuses": statuses, "NextToken": "page-2"},
    )


@pytest.mark.django_db
def test_harvest_pages_through_assignments_and_flags_lost_responses(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    answer_as_worker(published.study_neuron, "WORKERA", assignment_id(0))
    answer_as_worker(published.study_neuron, "WORKERC", assignment_id(2))
    stub_harvest(stubber, hit_id(0))

    report = MTurkProvider(published.publication).harvest()

    records = {r.external_id: r for r in CrowdAssignment.objects.all()}
    assert sorted(records) == [assignment_id(0), assignment_id(1), assignment_id(2)]
    assert records[assignment_id(0)].responses.get().external_id == assignment_id(0)
    assert records[assignment_id(1)].response_missing is True
    assert records[assignment_id(2)].accepted_at == ACCEPTED
    assert report.warnings == [
        f"assignment {assignment_id(1)} (worker WORKERB, HIT {hit_id(0)}) was submitted on MTurk but its response never reached this site"
    ]
    published.refresh_from_db()
    assert (published.assignments_available, published.assignments_completed) == (0, 3)


@pytest.mark.django_db
def test_harvest_run_twice_records_each_assignment_once(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    stub_harvest(stubber, hit_id(0))
    stub_harvest(stubber, hit_id(0))
    MTurkProvider(published.publication).harvest()

    report = MTurkProvider(published.publication).harvest()

    assert CrowdAssignment.objects.count() == 3
    assert [a for a in report.actions if a.verb == "recorded assignment"] == []


def harvested(published, n, worker, valid=True, answered=True):
    if answered:
        answer_as_worker(published.study_neuron, worker, assignment_id(n), valid=valid)
    record = CrowdAssignment.objects.create(
        publication=published.publication, external_id=assignment_id(n), worker_id=worker,
        provider_status="Submitted", response_missing=not answered,
    )
    HitAssignment.objects.create(assignment=record, hit=published)
    if answered:
        from evaluation.models import Response

        record.responses.add(Response.objects.get(external_id=assignment_id(n)))
    return record


@pytest.mark.django_db
def test_review_approves_valid_and_by_default_invalid_work_too(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    harvested(published, 0, "WORKERA", valid=True)
    harvested(published, 1, "WORKERB", valid=False)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": assignment_id(0)})
    stubber.add_response("approve_assignment", {}, {"AssignmentId": assignment_id(1)})

    report = MTurkProvider(published.publication).review()

    assert [str(a) for a in report.actions][0] == f"approved {assignment_id(0)}: valid"
    assert set(CrowdAssignment.objects.values_list("decision", flat=True)) == {"approve"}
    # Reward $0.08 + MTurk fee $0.02 for each approval.
    assert list(LedgerEntry.objects.values_list("amount", flat=True)) == [Decimal("0.10"), Decimal("0.10")]


@pytest.mark.django_db
def test_review_rejects_invalid_work_with_the_configured_message_under_the_reject_policy(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    Publication.objects.filter(pk=published.publication_id).update(
        invalid_policy="reject", reject_message="Your best pick contradicts your ratings."
    )
    published.publication.refresh_from_db()
    harvested(published, 0, "WORKERA", valid=True)
    harvested(published, 1, "WORKERB", valid=False)
    harvested(published, 2, "WORKERC", answered=False)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": assignment_id(0)})
    stubber.add_response(
        "reject_assignment", {},
        {"AssignmentId": assignment_id(1), "RequesterFeedback": "Your best pick contradicts your ratings."},
    )

    report = MTurkProvider(published.publication).review()

    decisions = dict(CrowdAssignment.objects.values_list("external_id", "decision"))
    assert decisions == {assignment_id(0): "approve", assignment_id(1): "reject", assignment_id(2): ""}
    assert report.warnings == [f"assignment {assignment_id(2)}: no response stored here; decide by hand on the requester site"]


@pytest.mark.django_db
def test_review_dry_run_calls_nothing_and_changes_nothing(published, stubbed_mturk):
    harvested(published, 0, "WORKERA", valid=True)

    report = MTurkProvider(published.publication).review(dry_run=True)

    assert [str(a) for a in report.actions] == [f"[dry-run] would approve {assignment_id(0)}: valid"]
    assert LedgerEntry.objects.count() == 0
    assert CrowdAssignment.objects.get().decision == ""


@pytest.mark.django_db
def test_an_approval_interrupted_by_a_crash_is_checked_not_sent_again(published, stubbed_mturk, monkeypatch):
    client, stubber = stubbed_mturk
    harvested(published, 0, "WORKERA", valid=True)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": assignment_id(0)})
    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(ledger, "_finish", lambda entry, result: (_ for _ in ()).throw(RuntimeError("crash")))
        MTurkProvider(published.publication).review()
    assert LedgerEntry.objects.get().state == LedgerEntry.State.PENDING

    stubber.add_response(
        "get_assignment",
        {"Assignment": {"AssignmentId": assignment_id(0), "AssignmentStatus": "Approved"}},
        {"AssignmentId": assignment_id(0)},
    )
    MTurkProvider(published.publication).review()

    assert LedgerEntry.objects.get().state == LedgerEntry.State.DONE
    assert CrowdAssignment.objects.get().decision == "approve"


@pytest.mark.django_db
def test_a_bonus_carries_a_unique_token_and_is_never_paid_twice(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    harvested(published, 0, "WORKERA", valid=True)
    provider = MTurkProvider(published.publication)
    expected = {
        "WorkerId": "WORKERA", "BonusAmount": "0.25", "AssignmentId": assignment_id(0), "Reason": "Careful work",
    }
    # The token is derived from assignment, amount and reason: the same bonus always has the same token.
    token = "bonus-" + hashlib.sha256(f"{assignment_id(0)}:0.25:Careful work".encode()).hexdigest()[:48]
    stubber.add_response("send_bonus", {}, {**expected, "UniqueRequestToken": token})

    provider.bonus(assignment_id(0), "0.25", "Careful work")
    provider.bonus(assignment_id(0), "0.25", "Careful work")  # already DONE in the ledger: no request

    entry = LedgerEntry.objects.get(operation="SendBonus")
    assert entry.params["UniqueRequestToken"] == token
    assert entry.amount == Decimal("0.30")  # $0.25 bonus + 20% fee ($0.05)


@pytest.mark.django_db
def test_top_up_asks_for_the_missing_valid_responses_only(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    harvested(published, 0, "WORKERA", valid=True)
    harvested(published, 1, "WORKERB", valid=False)
    harvested(published, 2, "WORKERC", answered=False)
    token = "topup-test-3"
    stubber.add_response(
        "create_additional_assignments_for_hit", {},
        {"HITId": hit_id(0), "NumberOfAdditionalAssignments": 2, "UniqueRequestToken": token},
    )

    MTurkProvider(published.publication).top_up()
    MTurkProvider(published.publication).top_up()  # the 2 new assignments are outstanding: nothing more

    published.refresh_from_db()
    assert published.max_assignments == 5
    assert LedgerEntry.objects.get().operation == "CreateAdditionalAssignmentsForHIT"


@pytest.mark.django_db
def test_expire_sets_a_past_expiry_and_delete_removes_reviewed_hits(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    stubber.add_response("update_expiration_for_hit", {}, {"HITId": hit_id(0), "ExpireAt": EXPIRED_IN_THE_PAST})
    stubber.add_response("delete_hit", {}, {"HITId": hit_id(0)})
    provider = MTurkProvider(published.publication)

    provider.expire()
    provider.delete()

    published.refresh_from_db()
    assert published.status == Hit.Status.DELETED
    assert EXPIRED_IN_THE_PAST < datetime.now(timezone.utc)


@pytest.mark.django_db
def test_notify_sends_the_message_to_every_worker_of_the_study(published, stubbed_mturk):
    client, stubber = stubbed_mturk
    harvested(published, 0, "WORKERB", valid=True)
    harvested(published, 1, "WORKERA", valid=True)
    stubber.add_response(
        "notify_workers", {"NotifyWorkersFailureStatuses": []},
        {"Subject": "Thanks", "MessageText": "Bonuses are on their way.", "WorkerIds": ["WORKERA", "WORKERB"]},
    )

    report = MTurkProvider(published.publication).notify("Thanks", "Bonuses are on their way.")

    assert [str(a) for a in report.actions] == ["notify 2 workers: Thanks"]
