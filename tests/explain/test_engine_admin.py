import pytest
from django.contrib.auth.models import User

from explain.models import (Explanation, FewShotExample, Job, Layer, Method, Network, Neuron, ProbeDataset, ProbeImage,
                            TopImage)

MODELS = [Network, Layer, Neuron, ProbeDataset, ProbeImage, TopImage, Method, Job, Explanation, FewShotExample]


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_explain_model_has_a_working_admin_list_and_add_page(client, model):
    network = Network.objects.create(name="net", architecture="demo-cnn", weights_source="random:0")
    neuron = Neuron.objects.create(layer=Layer.objects.create(network=network, name="conv1", unit_count=1), unit=0)
    method = Method.objects.create(name="m")
    Explanation.objects.create(method=method, neuron=neuron, text="<b>red</b> things")
    Job.objects.create(kind="explain", error="boom")
    client.force_login(User.objects.create_superuser("admin", "a@example.org", "pw"))
    name = f"admin:explain_{model._meta.model_name}"
    from django.urls import reverse

    listing = client.get(reverse(f"{name}_changelist"))
    assert listing.status_code == 200
    assert client.get(reverse(f"{name}_add")).status_code == 200
    if model is Explanation:
        assert "&lt;b&gt;red&lt;/b&gt; things" in listing.content.decode()


@pytest.mark.django_db
def test_few_shot_examples_are_added_in_the_admin(client):
    client.force_login(User.objects.create_superuser("admin", "a@example.org", "pw"))
    layer = Layer.objects.create(network=Network.objects.create(name="n", architecture="demo-cnn"), name="conv4")
    response = client.post("/admin/explain/fewshotexample/add/", {"layer": layer.pk, "unit": 3, "kind": "caption", "explanation": "red squares", "note": ""})
    assert response.status_code == 302
    assert FewShotExample.objects.get().explanation == "red squares"


@pytest.mark.django_db
def test_job_chunks_are_shown_read_only_and_go_with_their_job(client):
    from explain.models import JobChunk

    client.force_login(User.objects.create_superuser("admin", "a@example.org", "pw"))
    job = Job.objects.create(kind="explain")
    chunk = JobChunk.objects.create(job=job, index=0, units=[0, 1], status=JobChunk.Status.RUNNING, worker="gpu-1")
    page = client.get(f"/admin/explain/jobchunk/{chunk.pk}/change/").content.decode()
    assert "gpu-1" in page and 'name="status"' not in page and 'name="_save"' not in page
    assert client.post(f"/admin/explain/jobchunk/{chunk.pk}/change/", {"status": "succeeded"}).status_code == 403
    assert client.get("/admin/explain/jobchunk/add/").status_code == 403
    chunk.refresh_from_db()
    assert chunk.status == JobChunk.Status.RUNNING
    assert client.post(f"/admin/explain/job/{job.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Job.objects.exists() and not JobChunk.objects.exists()
