"""A publication's design: chosen and changed freely until it is sent, frozen from then on (service and model)."""
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mturk.models import DesignFrozen, MTurkDesign, ProlificDesign, Publication
from mturk.publications import freeze_design, open_publication

pytestmark = pytest.mark.crowd


@pytest.mark.django_db
def test_an_unsent_design_can_change_and_lands_in_the_right_tables(crowd_study):
    publication = open_publication(crowd_study, "prolific", reward=Decimal("0.50"), batch_size=4)
    open_publication(crowd_study, "prolific", estimated_minutes=7, reward=Decimal("0.60"))

    publication.refresh_from_db()
    design = ProlificDesign.objects.get(publication=publication)
    assert publication.reward == Decimal("0.60")
    assert (design.batch_size, design.estimated_minutes) == (4, 7)
    assert not MTurkDesign.objects.exists()


@pytest.mark.django_db
def test_a_field_of_another_provider_is_refused(crowd_study):
    with pytest.raises(ValueError, match="mturk publications have no design field batch_size"):
        open_publication(crowd_study, "mturk", batch_size=4)


@pytest.mark.django_db
def test_a_sent_design_refuses_changes_through_the_service_and_the_model(crowd_study):
    publication = open_publication(crowd_study, "mturk", reward=Decimal("0.10"), frame_height=600)
    freeze_design(publication)

    with pytest.raises(DesignFrozen, match=r"design is frozen \(reward can no longer change\)"):
        open_publication(crowd_study, "mturk", reward=Decimal("0.20"))
    with pytest.raises(DesignFrozen, match="frame_height can no longer change"):
        open_publication(crowd_study, "mturk", frame_height=900)
    publication.title = "Another title"
    with pytest.raises(DesignFrozen, match="title can no longer change"):
        publication.save()

    publication.refresh_from_db()
    assert (publication.reward, publication.title) == (Decimal("0.10"), "Rate how well descriptions match a set of images")
    assert MTurkDesign.objects.get(publication=publication).frame_height == 600
    # Asking for the values it already has is no change.
    assert open_publication(crowd_study, "mturk", reward=Decimal("0.10"), frame_height=600) == publication


@pytest.mark.django_db
def test_the_command_reports_a_frozen_design_without_a_stack_trace(crowd_study):
    publication = open_publication(crowd_study, "mturk")
    freeze_design(publication)
    with pytest.raises(CommandError, match="reward can no longer change"):
        call_command("mturk", "estimate", "--study", "crowd", "--reward", "0.50", stdout=StringIO())
    assert Publication.objects.get().reward == Decimal("0.08")


@pytest.mark.django_db
def test_bad_design_values_are_refused_with_the_field_named(crowd_study):
    with pytest.raises(CommandError, match="batch_size: Ensure this value is greater than or equal to 1"):
        call_command("prolific", "estimate", "--study", "crowd", "--batch-size", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="--invalid-policy: invalid choice: 'maybe' \\(choose from 'approve', 'reject'\\)"):
        call_command("mturk", "estimate", "--study", "crowd", "--invalid-policy", "maybe", stdout=StringIO())
    assert not ProlificDesign.objects.filter(batch_size=0).exists()
