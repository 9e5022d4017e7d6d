"""Crowd review by the study's exclusion policy: MTurk (botocore Stubber) and Prolific (played server), with --dry-run."""
import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import Response
from evaluation.services import set_exclusion_policy
from mturk.models import CrowdAssignment, LedgerEntry
from mturk.providers.mturk.provider import MTurkProvider
from mturk.review_policy import policy_review

from .providers.mturk.test_harvest_pay import assignment_id, harvested, published  # noqa: F401 (fixture)
from .providers.prolific.conftest import awaiting_review, drafted, prolific_publication  # noqa: F401 (fixture)
from .providers.prolific.test_provider import API, FakeProlific, session_with_answers

pytestmark = [pytest.mark.crowd, pytest.mark.django_db]

# WORKERA answers by the best-choice rule, WORKERB against it: the policy leaves WORKERB out.
POLICY = "invalid_rate > 0.5"


@pytest.fixture
def mturk_work(published):  # noqa: F811 (fixture)
    harvested(published, 0, "WORKERA", valid=True)
    harvested(published, 1, "WORKERB", valid=False)
    set_exclusion_policy(published.publication.study, POLICY)
    return published.publication


def bonus_token(assignment, amount, reason):
    return "bonus-" + hashlib.sha256(f"{assignment}:{amount}:{reason}".encode()).hexdigest()[:48]


def test_mturk_review_rejects_the_raters_the_policy_leaves_out_and_pays_the_kept_their_bonus(mturk_work, stubbed_mturk):
    client, stubber = stubbed_mturk
    reason = "Careful work"
    stubber.add_response("approve_assignment", {}, {"AssignmentId": assignment_id(0)})
    stubber.add_response("send_bonus", {}, {"WorkerId": "WORKERA", "BonusAmount": "0.05", "AssignmentId": assignment_id(0),
                                            "Reason": reason, "UniqueRequestToken": bonus_token(assignment_id(0), "0.05", reason)})
    stubber.add_response("reject_assignment", {},
                         {"AssignmentId": assignment_id(1), "RequesterFeedback": mturk_work.reject_message})

    report = MTurkProvider(mturk_work).review(policy=policy_review(mturk_work.study, Decimal("0.05"), 0.0, reason))

    lines = report.lines()
    assert lines[0].startswith(f"approved {assignment_id(0)}: kept by the exclusion policy (quality score ")
    assert lines[1] == f"sent bonus {assignment_id(0)}: $0.05 to WORKERA"
    assert lines[2] == f"rejected {assignment_id(1)}: exclusion policy: invalid_rate > 0.5"
    assert dict(CrowdAssignment.objects.values_list("worker_id", "decision")) == {"WORKERA": "approve", "WORKERB": "reject"}
    assert Response.objects.count() == 2  # the policy deletes nothing


def test_mturk_review_command_dry_run_prints_the_policy_decisions_and_sends_nothing(mturk_work, stubbed_mturk):
    out = StringIO()
    call_command("mturk", "review", "--study", "crowd", "--policy", "--dry-run", "--amount", "0.05",
                 "--bonus-min-score", "0", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "MTurk sandbox: study crowd"
    assert lines[1].startswith(f"[dry-run] would approve {assignment_id(0)}: kept by the exclusion policy (quality score ")
    assert lines[2] == f"[dry-run] would send bonus {assignment_id(0)}: $0.05 to WORKERA"
    assert lines[3] == f"[dry-run] would reject {assignment_id(1)}: exclusion policy: invalid_rate > 0.5"
    assert LedgerEntry.objects.count() == 0 and set(CrowdAssignment.objects.values_list("decision", flat=True)) == {""}


def test_bonus_goes_only_to_kept_raters_at_or_above_the_minimum_score(mturk_work, stubbed_mturk):
    out = StringIO()
    call_command("mturk", "review", "--study", "crowd", "--policy", "--dry-run", "--amount", "0.05",
                 "--bonus-min-score", "1.01", stdout=out)
    assert "bonus" not in out.getvalue() and "would approve" in out.getvalue()


def test_review_policy_needs_a_policy_on_the_study_and_a_bonus_needs_the_policy(published, stubbed_mturk):  # noqa: F811
    with pytest.raises(CommandError, match="study crowd has no exclusion policy; set one on the study page"):
        call_command("mturk", "review", "--study", "crowd", "--policy", "--dry-run", stdout=StringIO())
    with pytest.raises(CommandError, match="review pays a bonus only by the exclusion policy: add --policy"):
        call_command("mturk", "review", "--study", "crowd", "--amount", "0.05", "--dry-run", stdout=StringIO())


@pytest.fixture
def prolific_work(prolific_publication):  # noqa: F811 (fixture)
    drafted(prolific_publication)
    session_with_answers(prolific_publication, "PIDA", "SUB1", valid=(True, True))
    session_with_answers(prolific_publication, "PIDB", "SUB2", valid=(False, False))
    awaiting_review(prolific_publication, ["PIDA", "PIDB"])
    set_exclusion_policy(prolific_publication.study, POLICY)
    return prolific_publication


def test_prolific_review_by_the_policy_approves_bonuses_and_rejects(prolific_work):
    server = FakeProlific([
        ("POST", API + "submissions/SUB1/transition/", {"action": "APPROVE"}, {"status": "APPROVED"}),
        ("POST", API + "submissions/bonus-payments/", {"study_id": "STUDY1", "csv_bonuses": "PIDA,0.40\n"}, {"id": "BULK1"}),
        ("POST", API + "bulk-bonus-payments/BULK1/pay/", None, {}),
        ("POST", API + "submissions/SUB2/transition/",
         {"action": "REJECT", "message": prolific_work.reject_message, "rejection_category": "FAILED_CHECK"},
         {"status": "REJECTED"}),
    ])

    report = server.provider(prolific_work).review(policy=policy_review(prolific_work.study, "0.40", 0.0, "careful"))

    assert report.lines()[1:] == ["paid bonus PIDA: 0.40",
                                  "rejected SUB2: 0 of 2 responses valid; exclusion policy: invalid_rate > 0.5"]
    assert dict(CrowdAssignment.objects.values_list("external_id", "decision")) == {"SUB1": "approve", "SUB2": "reject"}
    assert server.script == []


def test_prolific_review_command_dry_run_shows_the_same_decisions(prolific_work):
    out = StringIO()
    call_command("prolific", "review", "--study", "crowd", "--policy", "--dry-run", "--amount", "0.40", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[dry-run] would approve SUB1: 2 of 2 responses valid; kept by the exclusion policy")
    assert lines[1:] == ["[dry-run] would pay bonus PIDA: 0.40",
                         "[dry-run] would reject SUB2: 0 of 2 responses valid; exclusion policy: invalid_rate > 0.5"]
    assert LedgerEntry.objects.count() == 0
