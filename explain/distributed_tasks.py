"""Celery wrapper of `explain.distributed.run_chunk`, routed to the `gpu` queue (see settings.CELERY_TASK_ROUTES)."""
from celery import shared_task


@shared_task(name="explain.run_explain_chunk", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_explain_chunk(self, chunk_id: int):
    from explain.distributed import run_chunk

    chunk = run_chunk(chunk_id, worker=self.request.hostname or "")
    return {"chunk": chunk.pk, "status": chunk.status}
