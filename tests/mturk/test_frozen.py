"""The database refuses to change a sent design even when code goes around the models (queryset update)."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from mturk.models import MTurkDesign, ProlificDesign, Publication
from mturk.publications import freeze_design, open_publication

pytestmark = pytest.mark.crowd


def refused(queryset, **changes):
    with pytest.raises(IntegrityError, match="frozen"), transaction.atomic():
        queryset.update(**changes)


@pytest.mark.django_db(transaction=True)
def test_updates_of_a_sent_design_are_refused_by_the_database(crowd_study):
    mturk = open_publication(crowd_study, "mturk")
    prolific = open_publication(crowd_study, "prolific")
    for publication in (mturk, prolific):
        freeze_design(publication)

    refused(Publication.objects.filter(pk=mturk.pk), reward=Decimal("1.00"))
    refused(Publication.objects.filter(pk=mturk.pk), published_at=None)
    refused(MTurkDesign.objects.filter(pk=mturk.pk), qualifications=[])
    refused(ProlificDesign.objects.filter(pk=prolific.pk), batch_size=1)

    # What the provider records after sending stays writable: Prolific's id, once.
    ProlificDesign.objects.filter(pk=prolific.pk).update(prolific_study_id="STUDY1")
    refused(ProlificDesign.objects.filter(pk=prolific.pk), prolific_study_id="STUDY2")
    assert Publication.objects.get(pk=mturk.pk).reward == Decimal("0.08")
    assert MTurkDesign.objects.get(pk=mturk.pk).qualifications != []


@pytest.mark.django_db
def test_an_unsent_design_is_updated_freely(crowd_study):
    publication = open_publication(crowd_study, "mturk")
    Publication.objects.filter(pk=publication.pk).update(reward=Decimal("1.00"))
    MTurkDesign.objects.filter(pk=publication.pk).update(frame_height=700)
    assert (Publication.objects.get().reward, MTurkDesign.objects.get().frame_height) == (Decimal("1.00"), 700)
