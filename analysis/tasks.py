"""Celery tasks of the analysis app (default queue)."""
from celery import shared_task


@shared_task(name="analysis.refresh_study_report", ignore_result=True)
def refresh_study_report(study_id: int) -> None:
    from analysis.report_cache import refresh_claimed_report

    refresh_claimed_report(study_id)
