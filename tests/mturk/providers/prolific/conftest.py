"""A Prolific publication of the two-neuron crowd study: batches of 2 at $0.50 a response."""
from decimal import Decimal

import pytest

from evaluation.models import Response
from mturk.models import CrowdAssignment, ProlificDesign, Publication


@pytest.fixture
def prolific_publication(crowd_study):
    publication = Publication.objects.create(
        study=crowd_study, provider=Publication.Provider.PROLIFIC, reward=Decimal("0.50"),
        title="Rate image descriptions", description="Rate how well short descriptions fit sets of images.",
    )
    ProlificDesign.objects.create(publication=publication, batch_size=2, estimated_minutes=5, completion_code="C0DE1234")
    return publication


def drafted(publication, study_id="STUDY1"):
    """As after `prolific draft`: Prolific's study id recorded, the design frozen."""
    ProlificDesign.objects.filter(pk=publication.pk).update(prolific_study_id=study_id)
    Publication.objects.filter(pk=publication.pk).update(published_at="2026-11-20T09:00:00Z")
    publication.refresh_from_db()
    return publication


def awaiting_review(publication, participants):
    """Harvested submissions SUB1, SUB2, ... of these participants, awaiting review, each linked to its session's answers."""
    for n, participant in enumerate(participants, 1):
        record = CrowdAssignment.objects.create(
            publication=publication, external_id=f"SUB{n}", worker_id=participant, provider_status="AWAITING REVIEW"
        )
        record.responses.set(Response.objects.filter(external_id=f"SUB{n}"))
