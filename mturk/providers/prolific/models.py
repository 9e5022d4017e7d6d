"""Prolific's own records: the Prolific study behind a publication, and each participant's session."""
from django.core.validators import MinValueValidator
from django.db import models

from evaluation.models import Rater
from mturk.models import ProviderDesign, Publication


class ProlificDesign(ProviderDesign):
    """The Prolific study of a publication: its id there, and the batch a participant rates.

    Frozen with the publication once the draft was sent; `prolific_study_id` is filled in once, when
    Prolific answers the draft."""

    publication = models.OneToOneField(
        Publication, on_delete=models.CASCADE, primary_key=True, related_name="prolific_design"
    )
    prolific_study_id = models.CharField(max_length=100, blank=True, help_text="Prolific's id of the study.")
    batch_size = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="Neurons a participant rates in one session."
    )
    estimated_minutes = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    completion_code = models.CharField(max_length=50, blank=True)

    DESIGN_FIELDS = ("batch_size", "estimated_minutes", "completion_code")

    class Meta:
        verbose_name = "Prolific study design"
        constraints = [
            models.CheckConstraint(condition=models.Q(batch_size__gte=1), name="prolific_batch_at_least_one"),
            models.CheckConstraint(condition=models.Q(estimated_minutes__gte=1), name="prolific_minutes_at_least_one"),
        ]

    def __str__(self):
        return f"Prolific study {self.prolific_study_id or '(not drafted)'} of {self.publication}"


class ParticipantSession(models.Model):
    """A Prolific participant's visit: which rater they are and where the batch stands."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="participant_sessions")
    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="+")
    participant_id = models.CharField(max_length=100)
    session_id = models.CharField(max_length=100)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["publication", "session_id"], name="one_record_per_prolific_session")
        ]
