"""Celery wrappers of `explain.distributed`, routed to the `gpu` queue (settings.CELERY_TASK_ROUTES)."""
from celery import shared_task


@shared_task(name="explain.prepare_chunked_job", acks_late=True, reject_on_worker_lost=True)
def prepare_chunked_job_task(job_id: int):
    from explain.distributed import prepare_chunked_job

    return prepare_chunked_job(job_id).pk


@shared_task(name="explain.run_explain_chunk", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_explain_chunk(self, chunk_id: int):
    from explain.distributed import run_chunk

    chunk = run_chunk(chunk_id, worker=self.request.hostname or "")
    return {"chunk": chunk.pk, "status": chunk.status}
