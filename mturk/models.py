"""Crowd publishing records shared by every provider: a study put on a provider, the provider's
records of work, and the money ledger. What only one provider needs (MTurk's HITs and HIT settings,
Prolific's study id and batches) lives in that provider's package, `providers/<name>/models.py`."""
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models

from evaluation.models import Response, Study


class DesignFrozen(ValidationError):
    """A change to the design of a publication whose design was already sent to its provider."""

    def __str__(self):
        fields = ", ".join(sorted(getattr(self, "error_dict", {})))
        return f"{self.messages[0]} ({fields} can no longer change)" if fields else self.messages[0]


class FrozenDesignMixin:
    """Refuses changes to `DESIGN_FIELDS` once `design_frozen()` is true, in `clean()` (forms, the
    admin) and in `save()` (any code). Queryset `update()`s are stopped by the database triggers of
    `mturk.frozen`."""

    DESIGN_FIELDS: tuple[str, ...] = ()

    def design_frozen(self) -> bool:
        raise NotImplementedError

    def changed_design_fields(self) -> list[str]:
        if self.pk is None:
            return []
        stored = type(self).objects.filter(pk=self.pk).values(*[self._meta.get_field(f).attname for f in self.DESIGN_FIELDS]).first()
        if stored is None:
            return []
        return [
            name for name in self.DESIGN_FIELDS
            if stored[self._meta.get_field(name).attname] != getattr(self, self._meta.get_field(name).attname)
        ]

    def frozen_design_errors(self) -> dict:
        changed = self.changed_design_fields()
        if not changed or not self.design_frozen():
            return {}
        publication = getattr(self, "publication", self)
        message = f"{publication} was sent to its provider on {publication.published_at:%Y-%m-%d %H:%M}; its design is frozen"
        return {name: [message] for name in changed}

    def clean(self):
        super().clean()
        errors = self.frozen_design_errors()
        if errors:
            raise DesignFrozen(errors)

    def save(self, *args, **kwargs):
        errors = self.frozen_design_errors()
        if errors:
            raise DesignFrozen(errors)
        super().save(*args, **kwargs)


class Publication(FrozenDesignMixin, models.Model):
    """One study offered on one crowd provider, with the design every provider shares.

    From the moment any of it is sent to the provider (`published_at`) the design is frozen: raters
    already saw it and money was reserved against it."""

    class Provider(models.TextChoices):
        LOCAL = "local", "Local volunteers"
        MTURK = "mturk", "Amazon Mechanical Turk"
        PROLIFIC = "prolific", "Prolific"

    class InvalidPolicy(models.TextChoices):
        APPROVE = "approve", "Approve anyway (as the reference study did)"
        REJECT = "reject", "Reject with the configured message"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="publications")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    production = models.BooleanField(default=False, help_text="False = the provider's sandbox (MTurk) or a test run.")
    title = models.CharField(max_length=200, default="Rate how well descriptions match a set of images")
    description = models.CharField(
        max_length=1000, default="Look at 10 images and rate how well each short description describes them."
    )
    reward = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.08"))
    invalid_policy = models.CharField(max_length=10, choices=InvalidPolicy.choices, default=InvalidPolicy.APPROVE)
    reject_message = models.CharField(
        max_length=1000,
        default="The description you picked as best was not among the ones you rated highest.",
    )
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When the design was first sent to the provider; frozen from then on."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    DESIGN_FIELDS = ("study", "provider", "production", "title", "description", "reward", "invalid_policy", "reject_message")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "provider", "production"], name="one_publication_per_provider")
        ]

    def __str__(self):
        where = "production" if self.production else "sandbox/draft"
        return f"{self.study.name} on {self.provider} ({where})"

    def design_frozen(self):
        stored = Publication.objects.filter(pk=self.pk).values_list("published_at", flat=True).first()
        return stored is not None

    def clean(self):
        super().clean()
        if self.pk and self.published_at is None and self.design_frozen():
            raise DesignFrozen({"published_at": ["a publication sent to its provider cannot be marked unsent"]})


class ProviderDesign(FrozenDesignMixin, models.Model):
    """Base of a provider's own settings for one publication (one row per publication), frozen with it."""

    class Meta:
        abstract = True

    def design_frozen(self):
        return Publication.objects.filter(pk=self.publication_id, published_at__isnull=False).exists()


class CrowdAssignment(models.Model):
    """A provider's record of one worker's work: an MTurk assignment or a Prolific submission."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="crowd_assignments")
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


# Each provider's own tables; imported here so Django registers them with this app.
from .providers.mturk.models import Hit, HitAssignment, MTurkDesign  # noqa: E402,F401
from .providers.prolific.models import ParticipantSession, ProlificDesign  # noqa: E402,F401
