"""Each study's report computed once per change and served from storage to every page and download.

A page or download that finds the stored report older than the study's data asks
for a refresh: a Celery task when a broker is configured, otherwise in the same
process right after the HTTP response has gone out. Refreshes are throttled (at
most one per ANALYSIS_REPORT_THROTTLE_SECONDS per study) and claimed in the
database, so two requests never compute the same report at once.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analysis import stats
from analysis.models import ReportArtifact, StudyReport
from analysis.report import build_report
from evaluation.models import Study
from evaluation.services import known_data_version, study_data_version

logger = logging.getLogger(__name__)

# A claim older than this is taken to belong to a worker that died mid-refresh.
ABANDONED_REFRESH = timedelta(minutes=15)


def throttle_seconds() -> float:
    return float(getattr(settings, "ANALYSIS_REPORT_THROTTLE_SECONDS", 30))


def report_resamples() -> int:
    return int(getattr(settings, "ANALYSIS_REPORT_RESAMPLES", stats.DEFAULT_RESAMPLES))


def study_state_key(study: Study) -> str:
    """What the report was computed from: the study's data version (evaluation.services.study_data_version)."""
    return known_data_version(study)


def stored_report(study: Study) -> StudyReport | None:
    return StudyReport.objects.filter(study=study).first()


def stored_artifact(study: Study, name: str) -> bytes | None:
    content = ReportArtifact.objects.filter(report__study=study, name=name).values_list("content", flat=True).first()
    return bytes(content) if content is not None else None


def compute_report(study: Study) -> StudyReport:
    """Compute and store the study's report now, in this thread."""
    state_key = study_data_version(study)  # read first: a change during the computation leaves the report stale
    started = time.perf_counter()
    artifacts = build_report(study, n_resamples=report_resamples())
    elapsed = time.perf_counter() - started
    with transaction.atomic():
        report, _ = StudyReport.objects.get_or_create(study=study)
        report.artifacts.all().delete()
        ReportArtifact.objects.bulk_create(ReportArtifact(report=report, name=name, content=content)
                                           for name, content in artifacts.items())
        report.state_key = state_key
        report.computed_at = timezone.now()
        report.compute_seconds = elapsed
        report.refresh_started_at = None
        report.error = ""
        report.save()
    return report


def refresh_claimed_report(study_id: int) -> None:
    """Run a refresh this process has claimed; a failure is recorded on the report, never raised into a page."""
    study = Study.objects.select_related("network").filter(pk=study_id).first()
    if study is None:
        return
    try:
        compute_report(study)
    except Exception as error:  # the page shows the error; the previous report stays served
        logger.exception("report of study %s failed", study.name)
        StudyReport.objects.filter(study=study).update(refresh_started_at=None, error=f"{type(error).__name__}: {error}")


def request_refresh(study: Study) -> str:
    """Ask for a fresh report if the stored one is out of date.

    Returns "fresh", "running" (another request's refresh is under way),
    "throttled" (refreshed less than the throttle ago; a later page view asks
    again) or "scheduled".
    """
    now = timezone.now()
    report, _ = StudyReport.objects.get_or_create(study=study)
    if report.computed_at and report.state_key == study_state_key(study):
        return "fresh"
    if report.refresh_started_at and now - report.refresh_started_at < ABANDONED_REFRESH:
        return "running"
    if report.computed_at and (now - report.computed_at).total_seconds() < throttle_seconds():
        return "throttled"
    claimed = StudyReport.objects.filter(pk=report.pk, refresh_started_at=report.refresh_started_at).update(
        refresh_started_at=now
    )
    if not claimed:
        return "running"
    _dispatch(study.pk)
    return "scheduled"


def _dispatch(study_id: int) -> None:
    if settings.CELERY_BROKER_URL:
        from analysis.tasks import refresh_study_report

        refresh_study_report.delay(study_id)
    else:
        run_after_response(study_id)


# ------------------------------------------------------------ in process, after the response

_request = threading.local()


def run_after_response(study_id: int) -> None:
    """Refresh once the current HTTP response has been sent; right away when not serving a request."""
    pending = getattr(_request, "pending", None)
    if pending is None:
        refresh_claimed_report(study_id)
    elif study_id not in pending:
        pending.append(study_id)


def on_request_started(**kwargs):
    _request.pending = []


def on_request_finished(**kwargs):
    pending, _request.pending = getattr(_request, "pending", None), None
    for study_id in pending or []:
        refresh_claimed_report(study_id)
