"""MTurk's own records: the HIT settings of a publication, its HITs, and which HIT an assignment belongs to."""
from django.db import models

from evaluation.models import StudyNeuron
from mturk.models import CrowdAssignment, ProviderDesign, Publication

# The reference study's worker filter (US, >98% approval, >10,000 approved HITs).
LOCALE_QUALIFICATION_ID = "00000000000000000071"
PERCENT_APPROVED_QUALIFICATION_ID = "000000000000000000L0"
NUMBER_APPROVED_QUALIFICATION_ID = "00000000000000000040"


def reference_qualifications():
    return [
        {"QualificationTypeId": LOCALE_QUALIFICATION_ID, "Comparator": "EqualTo", "LocaleValues": [{"Country": "US"}]},
        {"QualificationTypeId": PERCENT_APPROVED_QUALIFICATION_ID, "Comparator": "GreaterThan", "IntegerValues": [98]},
        {"QualificationTypeId": NUMBER_APPROVED_QUALIFICATION_ID, "Comparator": "GreaterThan", "IntegerValues": [10000]},
    ]


class MTurkDesign(ProviderDesign):
    """How a publication's HITs look on MTurk; frozen with the publication once a HIT was sent."""

    publication = models.OneToOneField(Publication, on_delete=models.CASCADE, primary_key=True, related_name="mturk_design")
    keywords = models.CharField(max_length=200, default="image, rating, description, research")
    assignment_duration_seconds = models.PositiveIntegerField(default=20 * 60)
    lifetime_seconds = models.PositiveIntegerField(default=7 * 24 * 3600)
    auto_approval_delay_seconds = models.PositiveIntegerField(default=3 * 24 * 3600)
    frame_height = models.PositiveIntegerField(default=0, help_text="0 lets MTurk size the frame to the page.")
    qualifications = models.JSONField(default=reference_qualifications, blank=True)

    DESIGN_FIELDS = (
        "keywords", "assignment_duration_seconds", "lifetime_seconds", "auto_approval_delay_seconds", "frame_height",
        "qualifications",
    )

    class Meta:
        verbose_name = "MTurk HIT design"

    def __str__(self):
        return f"MTurk design of {self.publication}"


class Hit(models.Model):
    """One MTurk HIT: one study neuron, MaxAssignments raters."""

    class Status(models.TextChoices):
        CREATING = "creating", "Create sent, outcome not yet recorded"
        PUBLISHED = "published"
        EXPIRED = "expired"
        DELETED = "deleted"

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="hits")
    study_neuron = models.ForeignKey(StudyNeuron, on_delete=models.PROTECT, related_name="+")
    request_token = models.CharField(max_length=64, unique=True)
    hit_id = models.CharField(max_length=64, blank=True, db_index=True)
    hit_type_id = models.CharField(max_length=64, blank=True)
    max_assignments = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    expires_at = models.DateTimeField(null=True, blank=True)
    # As GetHIT last reported them (refreshed by harvest), so the status page needs no AWS call.
    assignments_available = models.PositiveIntegerField(null=True, blank=True)
    assignments_pending = models.PositiveIntegerField(null=True, blank=True)
    assignments_completed = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["publication", "study_neuron__order"]
        constraints = [models.UniqueConstraint(fields=["publication", "study_neuron"], name="one_hit_per_neuron")]

    def __str__(self):
        return self.hit_id or self.request_token


class HitAssignment(models.Model):
    """The HIT an MTurk assignment belongs to (a Prolific submission has none)."""

    assignment = models.OneToOneField(CrowdAssignment, on_delete=models.CASCADE, primary_key=True, related_name="mturk_hit")
    hit = models.ForeignKey(Hit, on_delete=models.CASCADE, related_name="assignment_links")

    def __str__(self):
        return f"{self.assignment} of HIT {self.hit}"
