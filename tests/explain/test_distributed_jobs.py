"""Chunked generation jobs, run in process (no broker configured: Celery runs tasks eagerly)."""
import pytest

import tests.explain.distributed_support  # noqa: F401 - registers the cheap test methods
from explain.distributed import refresh_job_progress, run_chunk, split_units, submit_chunked_job
from explain.jobs import ensure_layer
from explain.models import Explanation, Job, JobChunk, Network, TopImage
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe


@pytest.fixture
def layer(db):
    network = Network.objects.create(name="net", architecture="demo-cnn")
    return ensure_layer(network, "conv2", unit_count=8, order=1)


def chunk_job(tmp_path, units):
    job = Job.objects.create(kind="explain-chunked", progress_total=len(units), params={
        "network": "net", "layer": "conv2", "method": "test-slow-units", "probe": "", "summary": "mean", "top_k": 10,
        "method_params": {"marker_dir": str(tmp_path)}})
    return job, JobChunk.objects.create(job=job, index=0, units=units)


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
def test_chunked_job_on_recorded_activations_of_the_demo_cnn(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.VAR_DIR = tmp_path / "var"
    Network.objects.create(name="demo-cnn", architecture="demo-cnn", weights_source="random:0")
    ensure_synthetic_probe("tiny", seed=0, config=SyntheticConfig(n_images=12))
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_chunked_job(network="demo-cnn", layer="conv1", method="test-top-image", probe="tiny",
                                 chunk_size=5, top_k=3)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.chunks.count() == 4 and (job.progress_done, job.progress_total) == (16, 16)  # conv1 has 16 units
    assert Explanation.objects.filter(job=job).count() == 16
    first_top = TopImage.objects.get(neuron__layer__name="conv1", neuron__unit=0, rank=0)
    assert Explanation.objects.get(job=job, neuron__unit=0).text == f"top image {first_top.image_id}"


@pytest.mark.django_db
def test_rerunning_a_chunk_replaces_its_explanations_instead_of_adding(layer, tmp_path):
    job, chunk = chunk_job(tmp_path, [3, 4])
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
    job, chunk = chunk_job(tmp_path, [1])
    run_chunk(chunk.pk)
    run_chunk(chunk.pk)
    assert JobChunk.objects.get(pk=chunk.pk).attempts == 1


@pytest.mark.django_db
def test_unknown_method_is_refused_and_unknown_layer_fails_the_job_with_its_name(layer, django_capture_on_commit_callbacks):
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        submit_chunked_job(network="net", layer="conv2", method="nope", units=[0])
    assert not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_chunked_job(network="net", layer="fc9", method="test-slow-units", units=[0])
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "no recorded layer 'fc9'" in job.error
    assert not job.chunks.exists()


@pytest.mark.django_db(transaction=True)
def test_command_runs_a_chunked_job_in_process_and_names_bad_input(tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    network = Network.objects.create(name="net", architecture="demo-cnn")
    ensure_layer(network, "conv2", unit_count=8, order=1)
    out = StringIO()
    call_command("explain_chunked", "--network", "net", "--layer", "conv2", "--method", "test-slow-units",
                 "--units", "0-2,6", "--chunk-size", "2", "--param", f"test-slow-units.marker_dir={tmp_path}", stdout=out)
    assert "succeeded 4/4" in out.getvalue()
    assert sorted(set(Explanation.objects.values_list("neuron__unit", flat=True))) == [0, 1, 2, 6]
    with pytest.raises(CommandError, match="--units: 'x' is not a unit number"):
        call_command("explain_chunked", "--network", "net", "--layer", "conv2", "--method", "test-slow-units",
                     "--units", "x")
    with pytest.raises(CommandError, match="has 8 units; asked for \\[9\\]"):
        call_command("explain_chunked", "--network", "net", "--layer", "conv2", "--method", "test-slow-units",
                     "--units", "9", "--param", f"test-slow-units.marker_dir={tmp_path}")


@pytest.mark.django_db
def test_job_page_shows_chunk_progress(layer, tmp_path, client, django_user_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_chunked_job(network="net", layer="conv2", method="test-slow-units", units=range(4),
                                 chunk_size=2, params={"marker_dir": str(tmp_path)})
    client.force_login(django_user_model.objects.create_user("researcher", password="x"))
    page = client.get(f"/explain/jobs/{job.pk}/").content.decode()
    assert "4 / 4" in page and "2 of 2 chunks done" in page
    assert page.count("<td>succeeded</td>") == 2
