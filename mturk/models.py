"""Crowd publishing records: a study put on a provider, its HITs, the provider's assignments, and the money ledger."""
from decimal import Decimal

from django.db import models

from evaluation.models import Rater, Response, Study, StudyNeuron

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


class Publication(models.Model):
    """One study offered on one crowd provider, with the design the provider needs."""

    class Provider(models.TextChoices):
        LOCAL = "local", "Local volunteers"
        MTURK = "mturk", "Amazon Mechanical Turk"
        PROLIFIC = "prolific", "Prolific"

    class InvalidPolicy(models.TextChoices):
        APPROVE = "approve", "Approve anyway (as the reference study did)"
        REJECT = "reject", "Reject with the configured message"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="publications")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    production = models.BooleanField(default=False, help_text="False = MTurk sandbox.")
    title = models.CharField(max_length=200, default="Rate how well descriptions match a set of images")
    description = models.CharField(
        max_length=1000, default="Look at 10 images and rate how well each short description describes them."
    )
    keywords = models.CharField(max_length=200, default="image, rating, description, research")
    reward = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.08"))
    assignment_duration_seconds = models.PositiveIntegerField(default=20 * 60)
    lifetime_seconds = models.PositiveIntegerField(default=7 * 24 * 3600)
    auto_approval_delay_seconds = models.PositiveIntegerField(default=3 * 24 * 3600)
    frame_height = models.PositiveIntegerField(default=0, help_text="0 lets MTurk size the frame to the page.")
    qualifications = models.JSONField(default=reference_qualifications, blank=True)
    invalid_policy = models.CharField(max_length=10, choices=InvalidPolicy.choices, default=InvalidPolicy.APPROVE)
    reject_message = models.CharField(
        max_length=1000,
        default="The description you picked as best was not among the ones you rated highest.",
    )
    # Prolific: a participant rates a batch of neurons in one session.
    batch_size = models.PositiveIntegerField(default=10)
    estimated_minutes = models.PositiveIntegerField(default=10)
    completion_code = models.CharField(max_length=50, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="Prolific study id.")
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "provider", "production"], name="one_publication_per_provider")
        ]

    def __str__(self):
        where = "production" if self.production else "sandbox/draft"
        return f"{self.study.name} on {self.provider} ({where})"


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


class CrowdAssignment(models.Model):
    """A provider's record of one worker's work: an MTurk assignment or a Prolific submission."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="crowd_assignments")
    hit = models.ForeignKey(Hit, null=True, blank=True, on_delete=models.CASCADE, related_name="crowd_assignments")
    external_id = models.CharField(max_length=100, help_text="MTurk AssignmentId or Prolific submission id.")
    worker_id = models.CharField(max_length=100)
    provider_status = models.CharField(max_length=30, help_text="Status as the provider last reported it.")
    accepted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    responses = models.ManyToManyField(Response, blank=True, related_name="crowd_assignments")
    response_missing = models.BooleanField(
        default=False, help_text="Submitted on the provider, but no response reached this site."
    )
    decision = models.CharField(max_length=10, blank=True, help_text="approve / reject, once decided.")
    harvested_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["publication", "submitted_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["publication", "external_id"], name="one_record_per_provider_assignment")
        ]

    def __str__(self):
        return self.external_id


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


class LedgerEntry(models.Model):
    """A money-moving or HIT-creating call, written before it is sent and again when its outcome is known.

    An entry left PENDING means the process stopped between the two: the call may or may not have
    happened, so it is reconciled against the provider instead of being sent again.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    publication = models.ForeignKey(Publication, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    key = models.CharField(max_length=200, unique=True)
    operation = models.CharField(max_length=60)
    params = models.JSONField(default=dict)
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        verbose_name_plural = "ledger entries"

    def __str__(self):
        return f"{self.operation} {self.key} [{self.state}]"
