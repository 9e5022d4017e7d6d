"""No page, request or command makes a study without neurons: the builder, the admin's add form, the REST API and
create_study all refuse one with the layer named, and leave no study row behind."""
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation.models import Study, StudyMethod
from explain.models import Explanation, Layer, TopImage

from .conftest import METHOD_NAMES

pytestmark = pytest.mark.django_db

# Three ways a network can hold nothing to rate for these methods.
NOTHING_ELIGIBLE = {
    "no explanation of the chosen rank": lambda: None,  # every method's rank-1 label exists; the request asks rank 2
    "no top images": lambda: TopImage.objects.all().delete(),
    "a method explained no neuron of layer2": lambda: Explanation.objects.filter(
        neuron__layer__name="layer2", method__name="shuffled-control").delete(),
}


def rank_for(case: str) -> int:
    return 2 if case == "no explanation of the chosen rank" else 1


@pytest.fixture
def researcher(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", "pw-for-tests")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def nothing_stored():
    return not Study.objects.exists() and not StudyMethod.objects.exists()


@pytest.mark.parametrize("case", NOTHING_ELIGIBLE)
def test_the_builder_refuses(explained_network, researcher, case):
    NOTHING_ELIGIBLE[case]()
    data = {"network": "tiny-cnn", "methods": METHOD_NAMES, "selection": "random", "per_layer": "3", "seed": "0",
            "raters_per_neuron": "2", "images_per_task": "5", "name": "empty", "action": "create",
            **{f"rank_{name}": str(rank_for(case)) for name in METHOD_NAMES}}
    response = signed_in(researcher).post(reverse("evaluation:study_builder"), data)
    assert response.status_code == 400
    assert "has no neuron with top images and an explanation of the chosen rank" in response.content.decode()
    assert nothing_stored()


@pytest.mark.parametrize("case", NOTHING_ELIGIBLE)
def test_the_api_refuses(explained_network, researcher, case):
    NOTHING_ELIGIBLE[case]()
    api = APIClient()
    api.force_authenticate(researcher)
    response = api.post("/api/v1/studies/", {"name": "empty", "network": "tiny-cnn", "methods": METHOD_NAMES,
                                             "explanation_rank": rank_for(case)}, format="json")
    assert response.status_code == 422
    assert "has no neuron with top images and an explanation of the chosen rank" in response.json()["detail"]
    assert nothing_stored()


@pytest.mark.parametrize("case", NOTHING_ELIGIBLE)
def test_the_command_refuses(explained_network, case):
    NOTHING_ELIGIBLE[case]()
    with pytest.raises(CommandError, match="has no neuron with top images and an explanation of the chosen rank"):
        call_command("create_study", "empty", "--network", "tiny-cnn", "--methods", ",".join(METHOD_NAMES),
                     "--rank", str(rank_for(case)), stdout=StringIO())
    assert nothing_stored()


def test_a_network_without_layers_is_refused_everywhere(researcher):
    from explain.models import Method, Network

    Network.objects.create(name="bare", architecture="demo-cnn")
    for name in METHOD_NAMES:
        Method.objects.create(name=name)
    with pytest.raises(CommandError, match="network 'bare' has no layers"):
        call_command("create_study", "empty", "--network", "bare", "--methods", ",".join(METHOD_NAMES), stdout=StringIO())
    api = APIClient()
    api.force_authenticate(researcher)
    refused = api.post("/api/v1/studies/", {"name": "empty", "network": "bare", "methods": METHOD_NAMES}, format="json")
    assert refused.status_code == 422 and refused.json()["detail"] == "network 'bare' has no layers"
    assert nothing_stored() and not Layer.objects.exists()


def test_the_admin_add_form_sends_to_the_builder_and_saves_nothing(explained_network, researcher):
    client = signed_in(researcher)
    for response in (client.get("/admin/evaluation/study/add/"),
                     client.post("/admin/evaluation/study/add/", {"name": "empty", "network": explained_network.pk,
                                                                   "status": "open", "raters_per_neuron": "3",
                                                                   "images_per_task": "10", "seed": "0"})):
        assert response.status_code == 302 and response["Location"] == reverse("evaluation:study_builder")
    assert nothing_stored()
    changelist = client.get("/admin/evaluation/study/").content.decode()
    assert "/admin/evaluation/study/add/" in changelist  # the admin's Add button leads to the builder
