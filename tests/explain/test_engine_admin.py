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
