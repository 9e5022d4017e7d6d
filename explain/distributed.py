"""Generation jobs split into chunks of units, so several GPU workers share one layer.

`submit_chunked_job` records the job and queues `prepare_chunked_job` on the `gpu`
queue (run in process when no broker is configured): it records the layer's
activations once (so chunk workers never record the same folder at the same time),
keeps the top images, splits the units into `JobChunk`s and queues one task per
chunk. `run_chunk` is the plain function a worker runs for a chunk: it is safe to
run twice, because `explain.services.store_explanations` overwrites in place what
an earlier attempt stored for the same units (a worker that dies mid-chunk never acknowledged
its message, and the broker hands it to another worker). Progress is recomputed
from the chunks, so a rerun never counts twice.
"""
from __future__ import annotations

import socket
from typing import Sequence

from django.db import transaction
from django.utils import timezone

from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.models import Job, JobChunk, Layer
from explain.services import store_explanations

JOB_KIND = "explain-chunked"


def split_units(units: Sequence[int], chunk_size: int) -> list[list[int]]:
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_size}")
    ordered = sorted(set(int(unit) for unit in units))
    return [ordered[start:start + chunk_size] for start in range(0, len(ordered), chunk_size)]


def submit_chunked_job(*, network: str, layer: str, method: str, probe: str = "", units: Sequence[int] | None = None,
                       chunk_size: int = 32, summary: str = "mean", top_k: int = 10, params: dict | None = None) -> Job:
    """Record a job over `units` (default: all) of one layer for one method, and queue its preparation."""
    method_instance = get_method(method)  # fails early, with the list of known methods, on a typo
    method_instance.parse_params(params or {})  # ... and on a misspelt or mistyped param
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_size}")
    if method_instance.needs_activations and not probe:
        raise ValueError(f"method {method} needs a probing dataset")
    with transaction.atomic():
        job = Job.objects.create(kind=JOB_KIND, params={
            "network": network, "layer": layer, "method": method, "probe": probe, "summary": summary,
            "top_k": top_k, "chunk_size": chunk_size, "units": sorted(set(map(int, units))) if units is not None else None,
            "method_params": params or {},
        })
        transaction.on_commit(lambda: _queue_preparation(job.pk))
    return job


def _queue_preparation(job_id):
    from explain.distributed_tasks import prepare_chunked_job_task

    prepare_chunked_job_task.apply_async(args=[job_id])


def _queue_chunks(chunk_ids):
    from explain.distributed_tasks import run_explain_chunk

    for chunk_id in chunk_ids:
        run_explain_chunk.apply_async(args=[chunk_id])


def prepare_chunked_job(job_id: int) -> Job:
    """Record the layer once, keep its top images, split the units into chunks and queue them."""
    from explain.jobs import ensure_layer, resolve_network, resolve_probe, save_top_images

    job = Job.objects.get(pk=job_id)
    params = job.params
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(),
                                         progress_message="recording activations")
    try:
        method = get_method(params["method"])
        network = resolve_network(params["network"])
        if method.needs_activations:
            from explain.activations import get_activation_cache
            from explain.networks import layer_names, load_network

            dataset = resolve_probe(params["probe"])
            model, preprocess = load_network(network)
            names = layer_names(model)
            if params["layer"] not in names:
                raise ValueError(f"network {network.name} has no layer {params['layer']!r}")
            cache = get_activation_cache(network, dataset, params["layer"], summary=params["summary"],
                                         top_k=params["top_k"], model_and_preprocess=(model, preprocess))
            layer = ensure_layer(network, params["layer"], cache.unit_count, names.index(params["layer"]))
            save_top_images(layer, dataset, cache, params["top_k"], params["summary"])
        else:
            layer = Layer.objects.filter(network=network, name=params["layer"]).first()
            if layer is None or layer.unit_count is None:
                raise ValueError(f"network {network.name} has no recorded layer {params['layer']!r}")
            ensure_layer(network, layer.name, layer.unit_count, layer.order)
        units = params["units"] if params["units"] is not None else list(range(layer.unit_count))
        outside = [unit for unit in units if not 0 <= unit < layer.unit_count]
        if outside:
            raise ValueError(f"layer {layer} has {layer.unit_count} units; asked for {outside[:5]}")
        with transaction.atomic():
            if not job.chunks.exists():  # a redelivered preparation reuses the chunks it made
                for index, chunk_units in enumerate(split_units(units, params["chunk_size"])):
                    JobChunk.objects.create(job=job, index=index, units=chunk_units)
            Job.objects.filter(pk=job.pk).update(progress_total=len(units), progress_message="chunks queued")
            pending = list(job.chunks.exclude(status=JobChunk.Status.SUCCEEDED).values_list("pk", flat=True))
            transaction.on_commit(lambda: _queue_chunks(pending))
    except Exception as error:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error=f"{type(error).__name__}: {error}",
                                             finished_at=timezone.now())
        raise
    return Job.objects.get(pk=job.pk)


def method_input_for(job: Job, method) -> MethodInput:
    """The method's inputs for the job's layer: the recorded activations and probe set."""
    import foundation

    params = job.params
    layer = Layer.objects.select_related("network").get(network__name=params["network"], name=params["layer"])
    probe = activations = None
    if method.needs_activations:
        from explain.activations import get_activation_cache
        from explain.probes import get_probe_set

        probe = get_probe_set(params["probe"])
        activations = get_activation_cache(layer.network, params["probe"], layer.name, summary=params["summary"],
                                           top_k=params["top_k"])
    return MethodInput(network=layer.network, layer=layer, probe=probe, activations=activations, foundation=foundation,
                       params=dict(params.get("method_params", {})))


def run_chunk(chunk_id: int, worker: str = "") -> JobChunk:
    """Explain one chunk's units and store the result; a chunk already done is left as it is."""
    from explain.jobs import method_record

    with transaction.atomic():
        chunk = JobChunk.objects.select_for_update().select_related("job").get(pk=chunk_id)
        if chunk.status == JobChunk.Status.SUCCEEDED:
            return chunk
        chunk.status, chunk.attempts = JobChunk.Status.RUNNING, chunk.attempts + 1
        chunk.worker, chunk.started_at = worker or socket.gethostname(), timezone.now()
        chunk.save(update_fields=["status", "attempts", "worker", "started_at"])
    job = chunk.job
    try:
        method = get_method(job.params["method"])
        inputs = method_input_for(job, method)
        records = method.explain(inputs, chunk.units)
        store_explanations(method_record(method), inputs.layer, records, job=job, units=chunk.units)
    except Exception as error:  # recorded on the chunk and job for the user to see, then re-raised
        JobChunk.objects.filter(pk=chunk.pk).update(status=JobChunk.Status.FAILED, finished_at=timezone.now(),
                                                    error=f"{type(error).__name__}: {error}")
        refresh_job_progress(job.pk)
        raise
    JobChunk.objects.filter(pk=chunk.pk).update(status=JobChunk.Status.SUCCEEDED, error="", finished_at=timezone.now())
    refresh_job_progress(job.pk)
    chunk.refresh_from_db()
    return chunk


def refresh_job_progress(job_id: int) -> Job:
    """Progress and status of the job from its chunks (units of finished chunks over all units)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        chunks = list(job.chunks.all())
        done = [chunk for chunk in chunks if chunk.status == JobChunk.Status.SUCCEEDED]
        failed = [chunk for chunk in chunks if chunk.status == JobChunk.Status.FAILED]
        job.progress_done = sum(len(chunk.units) for chunk in done)
        job.progress_message = f"{len(done)} of {len(chunks)} chunks done" + (f", {len(failed)} failed" if failed else "")
        if chunks and len(done) == len(chunks):
            job.status, job.finished_at, job.error = Job.Status.SUCCEEDED, timezone.now(), ""
        elif failed and len(done) + len(failed) == len(chunks):
            job.status, job.finished_at = Job.Status.FAILED, timezone.now()
            job.error = "; ".join(f"chunk {chunk.index}: {chunk.error}" for chunk in failed)
        job.save(update_fields=["progress_done", "progress_message", "status", "finished_at", "error"])
    return job
