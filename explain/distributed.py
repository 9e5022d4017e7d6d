"""Generation jobs split into chunks of units, so several GPU workers share one layer.

`submit_chunked_job` records the job and its chunks and queues one Celery task per
chunk on the `gpu` queue (run in process when no broker is configured).
`run_chunk` is the plain function a worker runs: it is safe to run twice, because
a chunk's explanations replace whatever an earlier attempt wrote for its units
(a worker that dies mid-chunk leaves the message unacknowledged, and the broker
hands it to another worker). Progress is recomputed from the chunks, so a rerun
never counts twice.
"""
from __future__ import annotations

import socket
from typing import Sequence

from django.db import transaction
from django.utils import timezone

from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.models import Explanation, Job, JobChunk, Layer, Method, Network, Neuron

JOB_KIND = "explain-chunked"


def split_units(units: Sequence[int], chunk_size: int) -> list[list[int]]:
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_size}")
    ordered = sorted(set(int(unit) for unit in units))
    return [ordered[start:start + chunk_size] for start in range(0, len(ordered), chunk_size)]


def submit_chunked_job(*, network: str, layer: str, method: str, units: Sequence[int], probe: str = "",
                       chunk_size: int = 32, summary: str = "mean", top_k: int = 10, params: dict | None = None) -> Job:
    """Record a job over `units` of one layer for one method, and queue its chunks."""
    network_row = Network.objects.filter(name=network).first()
    if network_row is None:
        raise ValueError(f"unknown network {network!r}")
    if not Layer.objects.filter(network=network_row, name=layer).exists():
        raise ValueError(f"network {network!r} has no layer {layer!r}")
    get_method(method)  # fails early, with the list of known methods, on a typo
    chunks = split_units(units, chunk_size)
    if not chunks:
        raise ValueError("no units to explain")
    with transaction.atomic():
        job = Job.objects.create(
            kind=JOB_KIND, progress_total=sum(len(chunk) for chunk in chunks),
            params={"network": network, "layer": layer, "method": method, "probe": probe, "summary": summary,
                    "top_k": top_k, "chunk_size": chunk_size, "method_params": params or {}},
        )
        chunk_ids = [JobChunk.objects.create(job=job, index=index, units=chunk).pk for index, chunk in enumerate(chunks)]
        transaction.on_commit(lambda: _queue_chunks(chunk_ids))
    return job


def _queue_chunks(chunk_ids):
    from explain.distributed_tasks import run_explain_chunk

    for chunk_id in chunk_ids:
        run_explain_chunk.apply_async(args=[chunk_id])


def method_input_for(job: Job, method) -> MethodInput:
    """The method's inputs for the job's layer: cached activations and probe set from the engine."""
    params = job.params
    network = Network.objects.get(name=params["network"])
    layer = Layer.objects.get(network=network, name=params["layer"])
    probe = activations = None
    if getattr(method, "needs_activations", True):
        from explain.activations import get_activation_cache
        from explain.probes import get_probe_set

        probe = get_probe_set(params["probe"])
        activations = get_activation_cache(network, params["probe"], layer.name, summary=params.get("summary", "mean"))
    return MethodInput(network=network, layer=layer, probe=probe, activations=activations,
                       params=dict(params.get("method_params", {})))


def run_chunk(chunk_id: int, worker: str = "") -> JobChunk:
    """Explain one chunk's units and store the result; a chunk already done is left as it is."""
    with transaction.atomic():
        chunk = JobChunk.objects.select_for_update().select_related("job").get(pk=chunk_id)
        if chunk.status == JobChunk.Status.SUCCEEDED:
            return chunk
        chunk.status, chunk.attempts = JobChunk.Status.RUNNING, chunk.attempts + 1
        chunk.worker, chunk.started_at = worker or socket.gethostname(), timezone.now()
        chunk.save(update_fields=["status", "attempts", "worker", "started_at"])
        Job.objects.filter(pk=chunk.job_id, started_at__isnull=True).update(started_at=timezone.now())
        Job.objects.filter(pk=chunk.job_id, status=Job.Status.PENDING).update(status=Job.Status.RUNNING)
    job = chunk.job
    try:
        method = get_method(job.params["method"])
        records = method.explain(method_input_for(job, method), chunk.units)
        replace_unit_explanations(method, Layer.objects.get(network__name=job.params["network"],
                                                            name=job.params["layer"]), chunk.units, records, job)
    except Exception as error:  # noqa: BLE001 - recorded on the chunk and job for the user to see
        JobChunk.objects.filter(pk=chunk.pk).update(status=JobChunk.Status.FAILED, error=repr(error),
                                                    finished_at=timezone.now())
        refresh_job_progress(job.pk)
        raise
    JobChunk.objects.filter(pk=chunk.pk).update(status=JobChunk.Status.SUCCEEDED, error="", finished_at=timezone.now())
    refresh_job_progress(job.pk)
    chunk.refresh_from_db()
    return chunk


@transaction.atomic
def replace_unit_explanations(method, layer: Layer, units: Sequence[int], records, job: Job | None) -> int:
    """Store `records` as the method's explanations of `units`, replacing any earlier ones for those units."""
    method_row, _ = Method.objects.get_or_create(
        name=method.name, defaults={"display_name": method.display_name, "kind": method.kind,
                                    "description": method.description},
    )
    neurons = {}
    for unit in units:
        neurons[int(unit)], _ = Neuron.objects.get_or_create(layer=layer, unit=int(unit))
    Explanation.objects.filter(method=method_row, neuron__in=neurons.values()).delete()
    rows = []
    for record in records:
        if record.unit not in neurons:
            raise ValueError(f"method {method.name} returned unit {record.unit}, outside its chunk {sorted(neurons)}")
        rows.append(Explanation(method=method_row, neuron=neurons[record.unit], rank=record.rank, text=record.text,
                                score=record.score, score_name=record.score_name, details=record.details, job=job))
    Explanation.objects.bulk_create(rows)
    return len(rows)


def refresh_job_progress(job_id: int) -> Job:
    """Progress and status of the job from its chunks (done units over all units)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        chunks = list(job.chunks.all())
        done = [chunk for chunk in chunks if chunk.status == JobChunk.Status.SUCCEEDED]
        failed = [chunk for chunk in chunks if chunk.status == JobChunk.Status.FAILED]
        job.progress_done = sum(len(chunk.units) for chunk in done)
        job.progress_message = f"{len(done)} of {len(chunks)} chunks done" + (f", {len(failed)} failed" if failed else "")
        if len(done) == len(chunks):
            job.status, job.finished_at, job.error = Job.Status.SUCCEEDED, timezone.now(), ""
        elif failed and len(done) + len(failed) == len(chunks):
            job.status, job.finished_at = Job.Status.FAILED, timezone.now()
            job.error = "; ".join(f"chunk {chunk.index}: {chunk.error}" for chunk in failed)
        job.save(update_fields=["progress_done", "progress_message", "status", "finished_at", "error"])
    return job
