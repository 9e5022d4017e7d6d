"""Every scoring model has a working admin page; few-shot examples are editable there."""
import pytest
from django.contrib.auth.models import User

from explain.models import Layer, Network
from scoring.models import FewShotExample


@pytest.mark.django_db
def test_scoring_admin_pages_list_and_add_few_shot_examples(client):
    client.force_login(User.objects.create_superuser("admin", "a@example.org", "pw"))
    for model in ("fewshotexample", "simulationscore", "metricscore", "ablationresult"):
        assert client.get(f"/admin/scoring/{model}/").status_code == 200
    layer = Layer.objects.create(network=Network.objects.create(name="n", architecture="demo-cnn"), name="conv4")
    response = client.post("/admin/scoring/fewshotexample/add/", {"layer": layer.pk, "unit": 3, "kind": "caption", "explanation": "red squares", "note": ""})
    assert response.status_code == 302
    assert FewShotExample.objects.get().explanation == "red squares"
