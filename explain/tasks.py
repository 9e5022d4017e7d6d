"""Celery wrapper around the explain job; settings.CELERY_TASK_ROUTES sends it to the `gpu` queue."""
from celery import shared_task

from explain.jobs import run_explain_job
from explain.models import Job


@shared_task(name="explain.run_explain_task")
def run_explain_task(job_id: int) -> int:
    job = Job.objects.get(pk=job_id)
    params = dict(job.params)
    run_explain_job(
        network=params.pop("network"),
        probe=params.pop("probe"),
        layers=params.pop("layers"),
        methods=params.pop("methods"),
        top_k=params.pop("top_k", 10),
        summary=params.pop("summary", "mean"),
        method_params_by_name=params.pop("method_params", None),
        store_maps=params.pop("store_maps", True),
        job=job,
        show_progress=False,
    )
    return job.pk
