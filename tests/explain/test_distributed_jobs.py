"""Chunked generation jobs, run in process (no broker configured: Celery runs tasks eagerly)."""
import pytest

import tests.explain.distributed_support  # noqa: F401 - registers the cheap test method
from explain.distributed import refresh_job_progress, run_chunk, split_units, submit_chunked_job
from explain.models import Explanation, Job, JobChunk, Layer, Network


@pytest.fixture
def layer(db):
    network = Network.objects.create(name="net", architecture="test")
    return Layer.objects.create(network=network, name="conv2")


def test_split_units_sorts_deduplicates_and_chunks():
    assert split_units([5, 1, 2, 2, 9, 0], 2) == [[0, 1], [2, 5], [9]]
    with pytest.raises(ValueError, match="chunk size must be at least 1"):
        split_units([1], 0)


@pytest.mark.django_db
def test_submitted_job_runs_every_chunk_and_aggregates_progress(layer, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_chunked_job(network="net", layer="conv2", method="test-slow-units", units=range(7),
                                 chunk_size=3, params={"marker_dir": str(tmp_path)})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total) == (7, 7)
    assert [chunk.units for chunk in job.chunks.all()] == [[0, 1, 2], [3, 4, 5], [6]]
    assert Explanation.objects.filter(job=job).count() == 14


@pytest.mark.django_db
def test_rerunning_a_chunk_replaces_its_explanations_instead_of_adding(layer, tmp_path):
    job = Job.objects.create(kind="explain-chunked", progress_total=2, params={
        "network": "net", "layer": "conv2", "method": "test-slow-units", "method_params": {"marker_dir": str(tmp_path)}})
    chunk = JobChunk.objects.create(job=job, index=0, units=[3, 4])
    run_chunk(chunk.pk)
    # A redelivered message after a worker died mid-write: the chunk is marked running again.
    JobChunk.objects.filter(pk=chunk.pk).update(status=JobChunk.Status.RUNNING)
    run_chunk(chunk.pk)
    chunk.refresh_from_db()
    assert chunk.attempts == 2 and chunk.status == JobChunk.Status.SUCCEEDED
    assert sorted(Explanation.objects.values_list("neuron__unit", "rank")) == [(3, 1), (3, 2), (4, 1), (4, 2)]
    assert refresh_job_progress(job.pk).progress_done == 2


@pytest.mark.django_db
def test_a_finished_chunk_delivered_again_is_not_rerun(layer, tmp_path):
    job = Job.objects.create(kind="explain-chunked", progress_total=1, params={
        "network": "net", "layer": "conv2", "method": "test-slow-units", "method_params": {"marker_dir": str(tmp_path)}})
    chunk = JobChunk.objects.create(job=job, index=0, units=[1])
    run_chunk(chunk.pk)
    run_chunk(chunk.pk)
    assert JobChunk.objects.get(pk=chunk.pk).attempts == 1


@pytest.mark.django_db
def test_submitting_names_an_unknown_layer_or_method(layer):
    with pytest.raises(ValueError, match="network 'net' has no layer 'fc9'"):
        submit_chunked_job(network="net", layer="fc9", method="test-slow-units", units=[0])
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        submit_chunked_job(network="net", layer="conv2", method="nope", units=[0])
    assert not Job.objects.exists()
