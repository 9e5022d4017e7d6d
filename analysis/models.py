"""The only rows analysis writes: each study's report, computed once per change of its data."""
from django.db import models

from evaluation.models import Study


class StudyReport(models.Model):
    """The latest computed report of a study and what it was computed from.

    state_key fingerprints the study's responses and exclusions when the report
    was computed; a page that finds a different fingerprint asks for a refresh.
    """

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="report")
    state_key = models.CharField(max_length=200, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    compute_seconds = models.FloatField(null=True, blank=True)
    refresh_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while one worker recomputes the report; cleared when it is done."
    )
    error = models.TextField(blank=True, help_text="Why the last refresh failed, if it did.")

    def __str__(self):
        return f"report of {self.study}"


class ReportArtifact(models.Model):
    """One rendered result of a report: a table in one format, a figure, the tidy responses."""

    report = models.ForeignKey(StudyReport, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=100, help_text="e.g. comparison.latex, plots/mean_rating.svg, responses.csv")
    content = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "name"], name="unique_artifact_per_report")]

    def __str__(self):
        return self.name
