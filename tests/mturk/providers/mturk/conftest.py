"""Published HITs of the crowd study, and the query string MTurk's worker frame adds to the task page."""
from datetime import timedelta

import pytest
from django.utils import timezone

from mturk.models import Hit

SANDBOX_SUBMIT = "https://workersandbox.mturk.com"


@pytest.fixture
def hits(publication):
    """One published HIT per neuron of the study, open for a day, three assignments each."""
    return [
        Hit.objects.create(
            publication=publication, study_neuron=study_neuron, request_token=f"ne-hit{i}",
            hit_id=f"3NEURONHIT{i:020d}", max_assignments=3, status=Hit.Status.PUBLISHED,
            expires_at=timezone.now() + timedelta(days=1),
        )
        for i, study_neuron in enumerate(publication.study.study_neurons.order_by("order"))
    ]


def frame_params(hit, assignment="3ASSIGNMENT0000000000000000001", worker="WORKERA"):
    return {"assignmentId": assignment, "hitId": hit.hit_id, "workerId": worker, "turkSubmitTo": SANDBOX_SUBMIT}
