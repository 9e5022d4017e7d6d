"""The whole MTurk loop on the sandbox: publish, a worker answers in the frame, harvest, pay, status."""
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from tests.mturk.conftest import fixed_hit_token
from tests.evaluation.helpers import answer, read_task

from .test_publish import expected_create_hit, hit_answer, hit_id

pytestmark = pytest.mark.crowd

ASSIGNMENT = "3ASSIGNMENT0000000000000000001"
WHEN = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


@pytest.mark.django_db
def test_publish_answer_harvest_pay_and_status(publication, stubbed_mturk, fixed_hit_tokens):
    client, stubber = stubbed_mturk
    tokens = [fixed_hit_token(n) for n in range(publication.study.study_neurons.count())]
    for n, token in enumerate(tokens):
        stubber.add_response("create_hit", hit_answer(n, token), expected_create_hit(token))
    call_command("mturk", "publish", "--study", "crowd", stdout=StringIO(), stderr=StringIO())

    # A worker previews, accepts and submits HIT 0 in the frame.
    browser = Client(enforce_csrf_checks=True)
    task_url = f"/mturk/task/{tokens[0]}/"
    params = {"assignmentId": ASSIGNMENT, "hitId": hit_id(0), "workerId": "WORKERA",
              "turkSubmitTo": "https://workersandbox.mturk.com"}
    html = browser.get(task_url, params).content.decode()
    browser.post(task_url, {**answer(read_task(html)), **params})

    for n in range(2):
        stubber.add_response("get_hit", {"HIT": {"HITId": hit_id(n), "MaxAssignments": 3, "NumberOfAssignmentsAvailable": 3 - (n == 0),
                                                 "NumberOfAssignmentsPending": 0, "NumberOfAssignmentsCompleted": int(n == 0)}},
                             {"HITId": hit_id(n)})
        found = [{"AssignmentId": ASSIGNMENT, "WorkerId": "WORKERA", "HITId": hit_id(0), "AssignmentStatus": "Submitted",
                  "AcceptTime": WHEN, "SubmitTime": WHEN}] if n == 0 else []
        stubber.add_response("list_assignments_for_hit", {"Assignments": found, "NumResults": len(found)},
                             {"HITId": hit_id(n), "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]})
    call_command("mturk", "harvest", "--study", "crowd", stdout=StringIO())

    stubber.add_response("approve_assignment", {}, {"AssignmentId": ASSIGNMENT})
    out = StringIO()
    call_command("mturk", "review", "--study", "crowd", stdout=out)
    assert f"approved {ASSIGNMENT}: valid" in out.getvalue()

    out = StringIO()
    call_command("mturk", "status", "--study", "crowd", stdout=out)
    status = out.getvalue()
    assert "HITs published: 2 of 2" in status
    neuron = publication.hits.get(hit_id=hit_id(0)).study_neuron.neuron
    assert f"{hit_id(0)} {neuron}: available 2, pending 0, submitted 0, approved 1, rejected 0" in status
    assert "spend so far: $0.10" in status
